# Sourced by the install scripts: one place for the installer and where the CPU torch build comes from.
# uv resolves and installs from locks/lock.txt: it checks every hash, installs exactly the listed set
# (`uv pip sync` removes anything else), and resolves the whole graph in seconds where pip takes minutes.
UV_VERSION=0.13.10
# The CPU build of torch (2.13.0+cpu): this kind of machine keeps its wheel on disk; elsewhere PyTorch's CPU
# wheel index serves the same file. A bare `torch` from PyPI is a multi-GB CUDA build.
if [ -d /opt/wheels ] && compgen -G "/opt/wheels/torch-2.13.0+cpu-*.whl" >/dev/null; then
    TORCH_SOURCE=(--find-links /opt/wheels)
else
    TORCH_SOURCE=(--find-links https://download.pytorch.org/whl/cpu/torch/)
fi

# ensure_uv VENV: create VENV when it is missing and put the pinned uv into it; prints nothing when present.
ensure_uv() {
    local venv=$1
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/uv" --version 2>/dev/null | grep -qx "uv $UV_VERSION\( .*\)\?"; then
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION" 2>&1 \
            | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
    fi
}
