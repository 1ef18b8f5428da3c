"""Tiny randomly initialised FunASR models in FunASR's own folder format, for tests.

They run through the real funasr.AutoModel code path; their text is noise, their shapes, keys
and timing are real. Initialisation is seeded, so a build is reproducible.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

# Characters the tiny model can emit: a few Mandarin ones and the English alphabet.
_CHARACTERS = list("的一是在不了有和人这中大为上个国我以要他广州市房地产介协会分析") + [
    chr(code) for code in range(ord("a"), ord("z") + 1)
]
TOKENS = ["<blank>", "<s>", "</s>", *_CHARACTERS, "<unk>"]

_DIM = 64

PARAFORMER_CONFIG = {
    "model": "Paraformer",
    "model_conf": {
        "ctc_weight": 0.0,
        "lsm_weight": 0.1,
        "length_normalized_loss": True,
        "predictor_weight": 1.0,
        "predictor_bias": 1,
        "sampling_ratio": 0.75,
    },
    "encoder": "SANMEncoder",
    "encoder_conf": {
        "output_size": _DIM,
        "attention_heads": 4,
        "linear_units": 128,
        "num_blocks": 2,
        "dropout_rate": 0.1,
        "positional_dropout_rate": 0.1,
        "attention_dropout_rate": 0.1,
        "input_layer": "pe",
        "normalize_before": True,
        "kernel_size": 11,
        "sanm_shfit": 0,
        "selfattention_layer_type": "sanm",
    },
    "decoder": "ParaformerSANMDecoder",
    "decoder_conf": {
        "attention_heads": 4,
        "linear_units": 128,
        "num_blocks": 2,
        "dropout_rate": 0.1,
        "positional_dropout_rate": 0.1,
        "self_attention_dropout_rate": 0.1,
        "src_attention_dropout_rate": 0.1,
        "att_layer_num": 2,
        "kernel_size": 11,
        "sanm_shfit": 0,
    },
    "predictor": "CifPredictorV2",
    "predictor_conf": {
        "idim": _DIM,
        "threshold": 1.0,
        "l_order": 1,
        "r_order": 1,
        "tail_threshold": 0.45,
    },
    "frontend": "WavFrontend",
    "frontend_conf": {
        "fs": 16000,
        "window": "hamming",
        "n_mels": 80,
        "frame_length": 25,
        "frame_shift": 10,
        "lfr_m": 7,
        "lfr_n": 6,
        "dither": 0.0,
    },
    "tokenizer": "CharTokenizer",
    "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
}


def build_tiny_paraformer(dst: Path) -> Path:
    """A 2-layer SANM Paraformer with a CIF predictor and a character vocabulary at `dst`.

    Does nothing when `dst` already exists. The folder is assembled beside `dst` and renamed into
    place, so an interrupted build never leaves a half-written model behind.
    """
    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}."))
    try:
        (work / "config.yaml").write_text(yaml.safe_dump(PARAFORMER_CONFIG, allow_unicode=True))
        (work / "tokens.json").write_text(json.dumps(TOKENS, ensure_ascii=False))
        _save_seeded_weights(work)
        work.chmod(0o755)  # mkdtemp makes it private; worker processes read it too
        os.replace(work, dst)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dst


def _save_seeded_weights(model_dir: Path) -> None:
    import torch
    from funasr import AutoModel

    # FunASR builds a model only from a folder with weights; an empty state dict lets it
    # construct the network, seeded (seed=0), whose fresh weights are then saved.
    torch.save({}, model_dir / "model.pt")
    # ncpu: FunASR sets torch's process-wide thread count from it; keep the current one.
    model, _ = AutoModel.build_model(
        model=str(model_dir),
        device="cpu",
        disable_update=True,
        seed=0,
        ncpu=torch.get_num_threads(),
    )
    torch.save(model.state_dict(), model_dir / "model.pt")
