"""Writes the publishable SAM template: template.yaml with the function's code taken from a
prebuilt deployment zip instead of `sam build` from source (CodeUri: . plus the
rust-cargolambda build metadata), for `sam package` / `sam publish` to the Serverless
Application Repository. Everything else, comments included, stays as written.

    python tools/sar_template.py ZIP OUT    (ZIP relative to OUT's directory, as sam reads it)
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The function's build-from-source lines, exactly as template.yaml has them: a change there
# must fail here loudly rather than publish a template that still builds from source.
BUILD_METADATA = """    Metadata:
      # sam build runs `cargo lambda build --release --arm64 --bin userkeeper` (cargo-lambda
      # on PATH) and copies the binary in as `bootstrap`.
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: userkeeper
"""
CODE_URI = "      CodeUri: .\n"


def sar_template(source: str, zip_path: str) -> str:
    for part in (BUILD_METADATA, CODE_URI):
        if source.count(part) != 1:
            sys.exit(f"template.yaml no longer has exactly one of:\n{part}(update tools/sar_template.py)")
    return source.replace(BUILD_METADATA, "").replace(
        CODE_URI, f"      # The release's prebuilt arm64 bootstrap (scripts/release).\n      CodeUri: {zip_path}\n"
    )


def main() -> None:
    zip_path, out = sys.argv[1], Path(sys.argv[2])
    out.write_text(sar_template((ROOT / "template.yaml").read_text(), zip_path))


if __name__ == "__main__":
    main()
