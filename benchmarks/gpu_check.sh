#!/usr/bin/env bash
# The GPU check on a machine that has a GPU but no Keras and no network (docs/gpu.md, "Measure a GPU"):
#   benchmarks/gpu_check.sh download        here, online: Keras and its two small needs as wheels into .whl/
#   benchmarks/gpu_check.sh run [ARGS...]   there, offline: install them from .whl/ if Keras is missing,
#                                           then run benchmarks/gpu_check.py ARGS
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.whl
PYTHON=${PYTHON:-python3}
case "${1:-}" in
    download)
        # The wheels must match the GPU machine's Python (TARGET_PYTHON), not this one's.
        version=${KERAS_VERSION:-$($PYTHON -c 'import importlib.metadata as m; print(m.version("keras"))')}
        $PYTHON -m pip download --no-deps --only-binary=:all: --python-version "${TARGET_PYTHON:-3.12}" \
            --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            -d "$WHEELS" "keras==$version" namex optree
        ;;
    run)
        shift
        if ! $PYTHON -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("keras") is None)'; then
            $PYTHON -m pip install -q --no-index --no-deps --no-compile --target /tmp/gan_keras_site "$WHEELS"/*.whl
            export PYTHONPATH=/tmp/gan_keras_site${PYTHONPATH:+:$PYTHONPATH}
        fi
        PYTHONUNBUFFERED=1 exec $PYTHON benchmarks/gpu_check.py "$@"
        ;;
    *)
        echo "usage: benchmarks/gpu_check.sh download | run [gpu_check.py arguments]" >&2
        exit 2
        ;;
esac
