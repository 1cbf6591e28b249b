"""A Lambda deployment zip of one `bootstrap`, byte-for-byte reproducible: the same binary
gives the same zip (fixed timestamp, mode 0755, no extra fields), whoever zips it, whenever.

    python tools/lambda_zip.py BOOTSTRAP OUT.zip
"""

import sys
import zipfile
from pathlib import Path

EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


def main() -> None:
    bootstrap, out = Path(sys.argv[1]), Path(sys.argv[2])
    info = zipfile.ZipInfo("bootstrap", date_time=EPOCH)
    info.external_attr = (0o100755 << 16)  # a regular file, rwxr-xr-x: Lambda runs it
    info.create_system = 3  # Unix, so that the mode above is read
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(info, bootstrap.read_bytes(), compresslevel=9)


if __name__ == "__main__":
    main()
