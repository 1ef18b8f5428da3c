"""A full-size SenseVoiceSmall-architecture model with random (seeded) weights, for GPU throughput.

Same network as iic/SenseVoiceSmall (SenseVoiceEncoderSmall: 50 + 20 SAN-M blocks of width 512,
CTC over a 25,055-token SentencePiece vocabulary, about 234 M parameters), so it costs what the
real model costs; its text is noise. The real weights cannot be downloaded here, and the
vocabulary is synthetic: a SentencePiece model written directly (CJK characters and Latin
pieces), which only has to have the real size.
"""

from pathlib import Path

import yaml

from tests.tiny_models import TINY_SANM_ENCODER, WAV_FRONTEND_CONF, build_model_dir

VOCAB_SIZE = 25055
_SPECIALS = ["<unk>", "<s>", "</s>"]

CONFIG = {
    "model": "SenseVoiceSmall",
    "model_conf": {"length_normalized_loss": True, "sos": 1, "eos": 2, "ignore_id": -1},
    "encoder": "SenseVoiceEncoderSmall",
    # The tiny models' SANM settings at SenseVoiceSmall's size: 50 blocks of width 512, then 20
    # time-pooling blocks.
    "encoder_conf": {
        **TINY_SANM_ENCODER,
        "output_size": 512,
        "linear_units": 2048,
        "num_blocks": 50,
        "tp_blocks": 20,
    },
    "tokenizer": "SentencepiecesTokenizer",
    "tokenizer_conf": {"bpemodel": None, "unk_symbol": "<unk>", "split_with_space": True},
    "frontend": "WavFrontend",
    "frontend_conf": WAV_FRONTEND_CONF,
}


def build_random_sensevoice(dst: Path) -> Path:
    """The model folder at `dst` (config.yaml, bpe.model, model.pt), built unless it exists."""
    if dst.exists():
        return dst
    return build_model_dir(
        dst,
        {"config.yaml": yaml.safe_dump(CONFIG), "bpe.model": _sentencepiece_model(VOCAB_SIZE)},
    )


def _sentencepiece_model(size: int) -> bytes:
    """A serialized unigram SentencePiece model of exactly `size` pieces."""
    from sentencepiece import sentencepiece_model_pb2 as sp_pb2

    model = sp_pb2.ModelProto()
    model.trainer_spec.model_type = sp_pb2.TrainerSpec.UNIGRAM
    model.trainer_spec.vocab_size = size
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = True
    kinds = {"<unk>": sp_pb2.ModelProto.SentencePiece.UNKNOWN}
    for index, text in enumerate(_piece_texts(size)):
        piece = model.pieces.add()
        piece.piece = text
        piece.score = -float(index)
        piece.type = kinds.get(text, sp_pb2.ModelProto.SentencePiece.NORMAL)
        if text in _SPECIALS[1:]:
            piece.type = sp_pb2.ModelProto.SentencePiece.CONTROL
    return model.SerializeToString()


def _piece_texts(size: int) -> list[str]:
    cjk = [chr(code) for code in range(0x4E00, 0xA000)]
    letters = "abcdefghijklmnopqrstuvwxyz"
    latin = [f"\u2581{a}" for a in letters] + [f"\u2581{a}{b}" for a in letters for b in letters]
    latin += [f"\u2581{a}{b}{c}" for a in letters for b in letters for c in letters]
    return (_SPECIALS + cjk + latin)[:size]
