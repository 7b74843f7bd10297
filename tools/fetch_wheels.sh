#!/usr/bin/env bash
# Download into .whl/ the Python wheels a lent GPU machine lacks (it has JAX, numpy, scipy,
# scikit-learn, numba, h5py, tqdm, matplotlib; not keras, librosa, soundfile and their small
# dependencies), for its Python 3.12 on x86-64, plus fallbacks for the small pure-Python
# dependencies it is only assumed to have (device_release.sh installs a wheel only when its
# distribution is missing there). About 8 MB; run here, where pip works.
# The versions are the ones this project is tested with; change them together.
set -euo pipefail
cd "$(dirname "$0")/.."
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64 any; do
    platforms+=(--platform "$p")
done
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d .whl \
    keras==3.15.1 namex==0.1.0 optree==0.20.0 \
    librosa==0.11.0 audioread==3.1.0 soundfile==0.13.1 soxr==1.1.0 pooch==1.9.0 \
    platformdirs==4.14.7 decorator==5.2.1 cffi==2.0.0 pycparser==3.0 \
    typing_extensions==4.16.0 lazy_loader==0.6 absl-py==2.5.1 rich==15.0.0 \
    markdown-it-py==4.3.0 mdurl==0.1.2 pygments==2.21.0 packaging==26.4 joblib==1.6.0 \
    threadpoolctl==3.8.0 msgpack==1.2.4
ls -l .whl
