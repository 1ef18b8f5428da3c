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
# FunASR's WavFrontend as the real SenseVoice and Paraformer models configure it: 16 kHz, 80 mel
# bins, 25/10 ms frames, low frame rate stacking 7 frames every 6.
WAV_FRONTEND_CONF = {
    "fs": 16000,
    "window": "hamming",
    "n_mels": 80,
    "frame_length": 25,
    "frame_shift": 10,
    "lfr_m": 7,
    "lfr_n": 6,
}

# The 2-layer SANM encoder of the tiny models.
TINY_SANM_ENCODER = {
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
}

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
    "encoder_conf": TINY_SANM_ENCODER,
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
    # No dither: the same input gives the same features, so outputs are reproducible.
    "frontend_conf": {**WAV_FRONTEND_CONF, "dither": 0.0},
    "tokenizer": "CharTokenizer",
    "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
}


def build_tiny_paraformer(dst: Path) -> Path:
    """A 2-layer SANM Paraformer with a CIF predictor and a character vocabulary at `dst`."""
    return _build_with_characters(dst, PARAFORMER_CONFIG)


def _build_with_characters(dst: Path, config: dict) -> Path:
    """A model folder (see build_model_dir) with `config` and the vocabulary TOKENS."""
    return build_model_dir(
        dst,
        {
            "config.yaml": yaml.safe_dump(config, allow_unicode=True),
            "tokens.json": json.dumps(TOKENS, ensure_ascii=False),
        },
    )


def build_model_dir(dst: Path, files: dict[str, str | bytes]) -> Path:
    """A FunASR model folder at `dst`: `files` (name -> content) and seeded random weights.

    Does nothing when `dst` already exists. The folder is assembled beside `dst` and renamed into
    place, so an interrupted build never leaves a half-written model behind.
    """
    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}."))
    try:
        for name, content in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                (work / name).write_bytes(content)
            else:
                (work / name).write_text(content)
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


# --- SenseVoice ---

# The tags SenseVoice writes before (and sometimes inside) its text: language, emotion, audio event,
# text normalisation. They are single pieces of the vocabulary, as in the real model's, so the tiny
# model emits them too and whoever reads its output must strip them.
SENSEVOICE_TAGS = [
    *(f"<|{language}|>" for language in ("zh", "en", "yue", "ja", "ko", "nospeech")),
    *(
        f"<|{emotion}|>"
        for emotion in (
            "HAPPY",
            "SAD",
            "ANGRY",
            "NEUTRAL",
            "FEARFUL",
            "DISGUSTED",
            "SURPRISED",
            "EMO_UNKNOWN",
        )
    ),
    *(
        f"<|{event}|>"
        for event in (
            "Speech",
            "BGM",
            "Applause",
            "Laughter",
            "Cry",
            "Sneeze",
            "Breath",
            "Cough",
            "Sing",
            "Speech_Noise",
            "GBG",
            "Event_UNK",
        )
    ),
    "<|withitn|>",
    "<|woitn|>",
]

# The SentencePiece model is trained on this text at build time: the shared clips' references
# (English lower-cased) and a few sentences of each language.
_SENSEVOICE_TEXT = """\
it was the first great sorrow of his life it was not so much the loss of the cotton itself but \
the fantasy the hopes the dreams built around it
after early nightfall the yellow lamps would light up here and there the squalid quarter of the \
brothels
one two three
ever tried ever failed no matter try again fail again fail better
the meeting starts at nine and ends before lunch
please send the minutes to everyone on the team
we recorded the interview in a quiet room last week
thank you for calling, how can i help you today
the weather will be cold and windy tomorrow morning
could you read the last sentence again more slowly
our train leaves the station at half past seven
she opened the window and listened to the rain
numbers such as twenty five and one hundred are spoken slowly
this recording was made for testing speech recognition
广州市房地产中介协会分析
欢迎大家来体验达摩院推出的语音识别模型
我想问我在滨海新区有房
砸自己的脚
今天的会议九点开始，中午之前结束。
请把会议记录发给团队里的每一个人。
我们上周在一个安静的房间里录了这段采访。
感谢您的来电，请问有什么可以帮您？
明天早上天气很冷，风也很大。
这段录音是为了测试语音识别而做的。
"""

# Piece 0 is <unk>, which SenseVoice's CTC treats as its blank; 1 and 2 are <s> and </s>.
SENSEVOICE_VOCAB_SIZE = 256


SENSEVOICE_CONFIG = {
    "model": "SenseVoiceSmall",
    "model_conf": {"length_normalized_loss": True, "sos": 1, "eos": 2, "ignore_id": -1},
    "encoder": "SenseVoiceEncoderSmall",
    # SenseVoice's encoder is SANM blocks too; no time-pooling blocks in the tiny one.
    "encoder_conf": {**TINY_SANM_ENCODER, "tp_blocks": 0},
    "frontend": "WavFrontend",
    "frontend_conf": {**WAV_FRONTEND_CONF, "dither": 0.0},
    # bpemodel and cmvn_file are filled in by FunASR from bpe.model and am.mvn beside this file.
    "tokenizer": "SentencepiecesTokenizer",
    "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
}

# FunASR's CT-Transformer punctuation model ("ct-punc") as its published config has it, with a
# 2-layer encoder and the tiny character vocabulary: it reads text, so no frontend.
PUNCTUATION_CONFIG = {
    "model": "CTTransformer",
    "model_conf": {
        "ignore_id": 0,
        "embed_unit": _DIM,
        "att_unit": _DIM,
        "dropout_rate": 0.1,
        "punc_list": ["<unk>", "_", "，", "。", "？", "、"],
        "punc_weight": [1.0] * 6,
        "sentence_end_id": 3,
    },
    "encoder": "SANMEncoder",
    # Over token embeddings, as ct-punc's: their width, sinusoidal positions, padding id 0.
    "encoder_conf": {
        **TINY_SANM_ENCODER,
        "input_size": _DIM,
        "attention_dropout_rate": 0.0,
        "pos_enc_class": "SinusoidalPositionEncoder",
        "padding_idx": 0,
    },
    "tokenizer": "CharTokenizer",
    "tokenizer_conf": {"unk_symbol": "<unk>"},
}


def build_tiny_punctuation(dst: Path) -> Path:
    """A 2-layer CT-Transformer punctuation model over the tiny vocabulary at `dst`.

    Its random weights put commas, full stops, question marks and the odd "<unk>" mark between
    the tiny Paraformer's words.
    """
    return _build_with_characters(dst, PUNCTUATION_CONFIG)


# Global CMVN in Kaldi's format: log-mel energies of the shared clips average about 14 with a
# spread of about 5 (after FunASR scales samples to 16-bit range), so every dimension is shifted
# by -14 and scaled by 0.2.
_CMVN_SHIFT = -14.0
_CMVN_SCALE = 0.2


def build_tiny_sensevoice(dst: Path) -> Path:
    """A SenseVoiceSmall with a 2-layer encoder and a locally trained SentencePiece vocabulary of
    SENSEVOICE_VOCAB_SIZE pieces (SENSEVOICE_TAGS among them) at `dst`.

    Does nothing when `dst` already exists (see build_model_dir). SenseVoice's `language` and
    `use_itn` index its own query embedding, not the vocabulary, so they work as in the real
    model. Two generate() options assume the real 25,055-piece vocabulary: `ban_emo_unk=True`
    indexes piece 25009 (IndexError here), and `output_timestamp=True` drops the first four
    pieces of the text as the tags the real model starts with (it runs here, but its times and
    words are meaningless).
    """
    if dst.exists():
        return dst
    return build_model_dir(
        dst,
        {
            "config.yaml": yaml.safe_dump(SENSEVOICE_CONFIG, allow_unicode=True),
            "bpe.model": _train_sentencepiece(),
            "am.mvn": _tiny_cmvn(),
        },
    )


def _train_sentencepiece() -> bytes:
    """The serialised SentencePiece model; training on one thread makes it reproducible."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_SENSEVOICE_TEXT.splitlines()),
        model_writer=model,
        model_type="unigram",
        vocab_size=SENSEVOICE_VOCAB_SIZE,
        character_coverage=1.0,
        user_defined_symbols=SENSEVOICE_TAGS,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def _tiny_cmvn() -> str:
    """am.mvn for WAV_FRONTEND_CONF's stacked features (80 mel bins x 7 frames)."""
    dims = WAV_FRONTEND_CONF["n_mels"] * WAV_FRONTEND_CONF["lfr_m"]

    def row(value: float) -> str:
        return " ".join([f"{value:g}"] * dims)

    return (
        "<Nnet>\n"
        f"<Splice> {dims} {dims}\n"
        "[ 0 ]\n"
        f"<AddShift> {dims} {dims}\n"
        f"<LearnRateCoef> 0 [ {row(_CMVN_SHIFT)} ]\n"
        f"<Rescale> {dims} {dims}\n"
        f"<LearnRateCoef> 0 [ {row(_CMVN_SCALE)} ]\n"
        "</Nnet>\n"
    )


# --- Fun-ASR-Nano ---

# Fun-ASR-Nano: a SenseVoice encoder and an adaptor feeding a Qwen3 language model that is
# prompted in words (language, hotwords, text normalisation). The language model's config and
# tokenizer sit in a subfolder that configuration.json's file_path_metas points FunASR to.
NANO_LLM_DIR = "Qwen3-0.6B"
_NANO_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|startofspeech|>",
    "<|endofspeech|>",
    "<unk>",
]
# Every character of the chat template and of the prompts FunASRNano.get_prompt writes, so that
# a change of prompt is a change of tokens.
_NANO_PROMPT_CHARACTERS = set(
    "You are a helpful assistant.\n!:*[], "
    "语音转写成中文英文日文韩文，不进行文本规整：请结合上下文信息，更加准确地完成任务。"
    "如果没有相关我们会留空热词列表"
)
NANO_VOCABULARY = _NANO_SPECIAL_TOKENS + sorted(_NANO_PROMPT_CHARACTERS | set(_CHARACTERS))
_NANO_DIM = _DIM

NANO_CONFIG = {
    "model": "FunASRNano",
    "model_conf": {},
    "audio_encoder": "SenseVoiceEncoderSmall",
    "audio_encoder_conf": {**TINY_SANM_ENCODER, "tp_blocks": 0, "freeze": True},
    "audio_adaptor": "Transformer",
    "audio_adaptor_conf": {
        "downsample_rate": 1,
        "use_low_frame_rate": True,
        "ffn_dim": 2 * _NANO_DIM,
        "llm_dim": _NANO_DIM,
        "encoder_dim": _DIM,
        "n_layer": 1,
        "attention_heads": 2,
    },
    "llm": "Qwen3-0.6b",
    "llm_conf": {"hub": "hf", "freeze": True, "llm_dtype": "fp32", "init_param_path": NANO_LLM_DIR},
    "frontend": "WavFrontend",
    "frontend_conf": {**WAV_FRONTEND_CONF, "dither": 0.0},
    "tokenizer": "HuggingfaceTokenizer",
    "tokenizer_conf": {"init_param_path": NANO_LLM_DIR},
}

_NANO_FILE_PATHS = {
    "init_param": "model.pt",
    "config": "config.yaml",
    "llm_conf": {"init_param_path": NANO_LLM_DIR},
    "tokenizer_conf": {"init_param_path": NANO_LLM_DIR},
    "frontend_conf": {"cmvn_file": "am.mvn"},
}


def build_tiny_fun_asr_nano(dst: Path) -> Path:
    """A Fun-ASR-Nano with a 2-layer encoder, a 1-layer adaptor and a 2-layer Qwen3 over a
    character vocabulary (NANO_VOCABULARY) at `dst`.

    Does nothing when `dst` already exists (see build_model_dir). It has no CTC decoder, so it
    gives no token times, and FunASR decodes a batch of clips in one call, as the real model
    does without one.
    """
    if dst.exists():
        return dst
    return build_model_dir(
        dst,
        {
            "config.yaml": yaml.safe_dump(NANO_CONFIG, allow_unicode=True),
            "configuration.json": json.dumps({"file_path_metas": _NANO_FILE_PATHS}),
            "am.mvn": _tiny_cmvn(),
            **_tiny_qwen3_files(),
        },
    )


def _tiny_qwen3_files() -> dict[str, str]:
    """A 2-layer Qwen3's config and a one-token-per-character tokenizer, as NANO_LLM_DIR files."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config

    ids = {token: index for index, token in enumerate(NANO_VOCABULARY)}
    characters = Tokenizer(models.WordLevel(vocab=ids, unk_token="<unk>"))
    characters.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    characters.decoder = decoders.Fuse()
    characters.add_special_tokens(_NANO_SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=characters,
        unk_token="<unk>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    config = Qwen3Config(
        vocab_size=len(ids),
        hidden_size=_NANO_DIM,
        intermediate_size=2 * _NANO_DIM,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=_NANO_DIM // 2,
        max_position_embeddings=4096,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        # Untied and widely spread weights: a small random language model with tied embeddings
        # repeats one token; this one says varied noise that follows its prompt and audio.
        tie_word_embeddings=False,
        initializer_range=0.5,
    )
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        config.save_pretrained(folder)
        return {f"{NANO_LLM_DIR}/{path.name}": path.read_text() for path in Path(folder).iterdir()}


# --- CAM++ (speaker embeddings) ---

# FunASR's CAM++ speaker model, narrowed (the real one: 128 channels, growth 32, 192 dimensions).
TINY_CAMPPLUS_CONFIG = {
    "model": "CAMPPlus",
    "model_conf": {
        "feat_dim": 80,
        "embedding_size": 32,
        "growth_rate": 8,
        "bn_size": 2,
        "init_channels": 16,
    },
}


def build_tiny_campplus(dst: Path) -> Path:
    """A narrow CAM++ at `dst`: random speaker embeddings through FunASR's real CAM++ code."""
    return build_model_dir(dst, {"config.yaml": yaml.safe_dump(TINY_CAMPPLUS_CONFIG)})
