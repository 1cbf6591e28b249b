# Shared by the scripts: the Python tools live in .venv, made from tests/requirements.txt.
# Sourced, not run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

setup_python() {
    if ! command -v python3 >/dev/null; then
        echo "python3 is required: apt-get install -y python3 python3-venv" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    # Quiet unless it fails; a fresh machine takes about 30 s here.
    .venv/bin/pip install --disable-pip-version-check -q -r tests/requirements.txt
    # cargo finds the `cargo lambda` subcommand (installed from PyPI) on PATH.
    export PATH="$PWD/.venv/bin:$PATH"
}

# MiniStack, the CloudFormation engine of the stack tests and the demo, in a virtualenv of its
# own (.venv-ministack): it pins a botocore that moto's tools in .venv do not take.
setup_ministack() {
    if [ ! -x .venv-ministack/bin/python ]; then
        python3 -m venv .venv-ministack
    fi
    .venv-ministack/bin/pip install --disable-pip-version-check -q -r tests/requirements-ministack.txt
}
