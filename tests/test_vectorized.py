"""evaluate_many: the closed form over numpy arrays, exactly equal to evaluate elementwise."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derivation import DerivationError, derive, vectorized
from derivation.vectorized import INT64_MAX, evaluate_many

VARIANTS = {
    "baseline": {},
    "flash+gqa": {"attention": "flash", "kv_heads": "g"},
    "tp-symbolic+sp": {"tensor_parallel": "t", "sequence_parallel": True},
    "model-interleaved": {"scope": "model", "tensor_parallel": "t", "pipeline_parallel": "p",
                          "interleave": "m"},
    "bit-masks": {"mask_bytes": "bits"},
    "llama-hf+cp": {"preset": "llama-hf", "tensor_parallel": "t", "context_parallel": "c"},
}
# Small grids: every size divides what it must (h/a, a/g, a/t, s/t, L/(pm), ...).
GRID = {"s": [8, 16, 48], "b": [1, 2], "h": [64, 192], "a": [4, 8], "g": [1, 4], "t": [1, 2, 4],
        "f": [256, 512], "L": [24, 48], "p": [2, 4], "m": [2, 3], "c": [2], "v": [512]}


OVERRIDES = {"llama-hf+cp": {"g": [2, 4], "t": [1, 2]}}  # t must divide g there


def _grid(d, name):
    grid = {**GRID, **OVERRIDES.get(name, {})}
    names = [symbol.name for symbol in d.symbols]
    return names, grid, np.ix_(*(np.array(grid[n]) for n in names))


@pytest.mark.parametrize("name", VARIANTS)
def test_evaluate_many_equals_evaluate_elementwise(name):
    d = derive(**VARIANTS[name])
    names, grid, axes = _grid(d, name)
    many = evaluate_many(d, **dict(zip(names, axes)))
    assert many.dtype == np.int64
    assert many.shape == tuple(len(grid[n]) for n in names)
    for index in itertools.product(*(range(len(grid[n])) for n in names)):
        values = {n: grid[n][i] for n, i in zip(names, index)}
        assert int(many[index]) == d.evaluate(**values), values


def test_the_method_on_derivation_delegates():
    d = derive()
    assert d.evaluate_many(s=np.array([2048]), b=1, h=12288, a=96).tolist() == [2868903936]


def test_scalars_give_a_zero_dimensional_array():
    result = evaluate_many(derive(), s=2048, b=1, h=12288, a=96)
    assert result.shape == () and int(result) == 2868903936


def test_flat_arrays_broadcast_elementwise():
    d = derive()
    s = np.array([1024, 2048, 4096])
    b = np.array([1, 2, 4])
    assert evaluate_many(d, s=s, b=b, h=12288, a=96).tolist() == [
        d.evaluate(s=int(x), b=int(y), h=12288, a=96) for x, y in zip(s, b)]


def test_python_lists_are_accepted():
    assert evaluate_many(derive(), s=[1024, 2048], b=1, h=12288, a=96).tolist() == [931135488, 2868903936]


def test_results_near_the_int64_limit_are_exact():
    d = derive()
    s = np.array([2**25, 2**26])
    many = evaluate_many(d, s=s, b=1, h=12288, a=96)
    assert many.tolist() == [d.evaluate(s=int(x), b=1, h=12288, a=96) for x in s]
    assert int(many.max()) <= INT64_MAX


def test_overflow_is_an_error_not_a_wrapped_number():
    with pytest.raises(DerivationError, match=r"above the int64 limit 2\*\*63 - 1.*s=2147483648"):
        evaluate_many(derive(), s=np.array([1024, 2**31]), b=1, h=12288, a=96)


def test_numerator_overflow_with_a_fitting_quotient_is_exact():
    # with bit-packed masks the common denominator is 8: the numerator passes 2**63 first
    d = derive(mask_bytes="bits", tensor_parallel="t")
    values = dict(s=2**24, b=8, h=2**14, a=2**7, t=2**3)
    assert int(evaluate_many(d, **values)) == d.evaluate(**values)


def test_fractional_symbolic_byte_sizes_are_substituted_exactly():
    d = derive(dtype="symbolic")
    s = np.array([1024, 2048])
    many = evaluate_many(d, s=s, b=1, h=12288, a=96, beta=2, mu="3/2")
    assert many.tolist() == [d.evaluate(s=int(x), b=1, h=12288, a=96, beta=2, mu="3/2") for x in s]


def test_a_bit_packed_mask_below_one_byte_is_substituted_exactly():
    d = derive(dtype="symbolic")
    s = np.array([1024, 2048])
    many = evaluate_many(d, s=s, b=1, h=12288, a=96, beta=2, mu="1/8")
    assert many.tolist() == [d.evaluate(s=int(x), b=1, h=12288, a=96, beta=2, mu="1/8") for x in s]


def test_fractional_byte_sizes_in_an_array_are_refused():
    with pytest.raises(DerivationError, match="fractional β or μ as one scalar"):
        evaluate_many(derive(dtype="symbolic"), s=8, b=1, h=64, a=4, beta=2, mu=np.array([0.5, 1.0]))


@pytest.mark.parametrize("values, message", [
    (dict(s=8, b=1, h=64), r"missing value for a"),
    (dict(s=np.array([8, 0]), b=1, h=64, a=4), r"s must be a positive whole number, got 0"),
    (dict(s=np.array([8, -4]), b=1, h=64, a=4), r"s must be a positive whole number, got -4"),
    (dict(s=np.array([8.0]), b=1, h=64, a=4), r"s must be an array of positive whole numbers.*float64"),
    (dict(s=True, b=1, h=64, a=4), r"s must be an array of positive whole numbers.*bool"),
    (dict(s=8, b=1, h=np.array([64, 96]), a=np.array([4, 5])), r"h/a is not a whole number at a=5, s=8, b=1, h=96"),
    (dict(s=np.array([1, 2]), b=1, h=64, a=4, x=1), r"unknown symbol 'x'"),
    (dict(s=np.array([1, 2]), b=np.array([1, 2, 3]), h=64, a=4), r"do not broadcast"),
    (dict(s=2**64, b=1, h=64, a=4), r"above the int64 limit"),
])
def test_bad_input_is_a_derivation_error(values, message):
    with pytest.raises(DerivationError, match=message):
        evaluate_many(derive(), **values)


def test_interleave_depth_below_two_is_refused():
    d = derive(scope="model", pipeline_parallel="p", interleave="m")
    with pytest.raises(DerivationError, match="m must be at least 2"):
        evaluate_many(d, s=8, b=1, h=64, a=4, L=24, p=2, m=np.array([2, 1]))


def test_wholes_error_names_the_first_offending_configuration():
    d = derive(tensor_parallel="t", sequence_parallel=True)
    with pytest.raises(DerivationError, match=r"s/t is not a whole number at a=4, s=6, b=1, h=64, t=4"):
        evaluate_many(d, s=np.array([8, 6]), b=1, h=64, a=4, t=4)


def test_bit_masks_need_whole_bytes():
    d = derive(mask_bytes="bits")
    with pytest.raises(DerivationError, match="not a whole number of bytes at a=1, s=1, b=1, h=1"):
        evaluate_many(d, s=1, b=1, h=1, a=1)


def test_empty_arrays_give_an_empty_result():
    assert evaluate_many(derive(), s=np.array([], dtype=np.int64), b=1, h=64, a=4).shape == (0,)


def test_a_denominator_that_divides_only_the_whole_numerator_is_exact():
    # 33as²b/8 + 129sbh/4: the common factor sb supplies the 8 that 33as + 258h lacks
    d = derive(mask_bytes="bits")
    values = dict(s=np.array([8, 16]), b=1, h=np.array([[3], [6]]), a=np.array([[1], [3]]))
    many = evaluate_many(d, **values)
    assert many.tolist() == [[d.evaluate(s=s, b=1, h=h, a=a) for s in (8, 16)] for h, a in ((3, 1), (6, 3))]


# --- the fast path: folded constants, Horner form, blocks of CHUNK elements -----------------------

LARGE = 3 * vectorized.CHUNK + 17  # more than one block, the last one short


def _flat(rng, names, grid, size):
    """``size`` random configurations drawn from ``grid`` (every size valid), as flat arrays."""
    return {n: np.array(grid[n])[rng.integers(0, len(grid[n]), size)] for n in names}


def _reference(d, **arrays):
    """The whole-array path, which the elementwise tests above check against evaluate."""
    form = vectorized.compiled(d)
    columns = [np.asarray(arrays[s.name], dtype=np.int64) for s in form.symbols]
    shape = np.broadcast_shapes(*(c.shape for c in columns))
    return vectorized._reference(form, [s.name for s in form.symbols], columns,
                                 [int(c.max()) for c in columns], shape)


@pytest.mark.parametrize("name", VARIANTS)
def test_flat_arrays_over_many_blocks_equal_the_reference_path(name):
    d = derive(**VARIANTS[name])
    names, grid, _ = _grid(d, name)
    if name == "tp-symbolic+sp":  # keep s/t whole with t drawn independently
        grid = {**grid, "s": [16, 48]}
    if name == "llama-hf+cp":  # t | g | a
        grid = {**grid, "g": [4], "a": [4, 8]}
    arrays = _flat(np.random.default_rng(0), names, grid, LARGE)
    many = evaluate_many(d, **arrays)
    assert np.array_equal(many, _reference(d, **arrays))
    for k in (0, LARGE // 2, LARGE - 1):
        assert int(many[k]) == d.evaluate(**{n: int(arrays[n][k]) for n in names})


def test_valid_flat_arrays_take_the_fast_path(monkeypatch):
    def refuse(*args):
        raise AssertionError("the reference path ran")

    monkeypatch.setattr(vectorized, "_reference", refuse)
    d = derive(preset="llama", tensor_parallel="t")
    rng = np.random.default_rng(1)
    arrays = dict(s=rng.integers(1, 1000, LARGE) * 8, b=rng.integers(1, 9, LARGE),
                  h=1024 * rng.integers(4, 6, LARGE), a=2 ** rng.integers(0, 6, LARGE), f=11008, g=1, t=1)
    assert evaluate_many(d, **arrays).shape == (LARGE,)


def test_an_array_of_one_value_is_folded_like_a_scalar():
    d = derive(tensor_parallel="t", sequence_parallel=True)
    s = np.arange(1, LARGE + 1) * 8
    assert np.array_equal(evaluate_many(d, s=s, b=1, h=64, a=4, t=np.full(LARGE, 2)),
                          evaluate_many(d, s=s, b=1, h=64, a=4, t=2))


def test_a_constant_array_that_breaks_a_whole_number_is_refused():
    d = derive(tensor_parallel="t")
    with pytest.raises(DerivationError, match=r"a/t is not a whole number at a=4, s=8, b=1, h=96, t=3"):
        evaluate_many(d, s=np.full(LARGE, 8), b=1, h=96, a=4, t=np.full(LARGE, 3))


def test_a_non_whole_head_size_in_a_late_block_of_flat_arrays_is_refused():
    h = np.full(LARGE, 1024)
    a = np.full(LARGE, 8)
    a[0] = 16
    h[LARGE - 5], a[LARGE - 5] = 1000, 3  # the first offending configuration
    h[LARGE - 2] = 1004  # 1004/8 is not whole either, but comes later
    with pytest.raises(DerivationError, match=r"h/a is not a whole number at a=3, s=2, b=1, h=1000"):
        evaluate_many(derive(), s=np.full(LARGE, 2), b=1, h=h, a=a)


def test_overflow_in_a_late_block_of_flat_arrays_is_an_error():
    s = np.full(LARGE, 2048)
    s[LARGE - 3] = 2**31
    with pytest.raises(DerivationError, match=r"above the int64 limit.*a=96, s=2147483648, b=1, h=12288"):
        evaluate_many(derive(), s=s, b=1, h=12288, a=96)


def test_a_total_that_is_not_whole_bytes_in_flat_arrays_is_refused():
    s = np.full(LARGE, 8)
    s[LARGE - 1] = 1
    with pytest.raises(DerivationError, match=r"not a whole number of bytes at a=1, s=1, b=1, h=1"):
        evaluate_many(derive(mask_bytes="bits"), s=s, b=1, h=1, a=1)


def test_an_array_of_byte_sizes_must_be_positive():
    with pytest.raises(DerivationError, match=r"beta must be a positive whole number, got 0"):
        evaluate_many(derive(dtype="symbolic"), s=8, b=1, h=64, a=4, beta=np.array([2, 0]), mu=1)


def test_the_baseline_total_needs_no_integer_division():
    form = vectorized.compiled(derive())
    assert vectorized._Division.of(form.total, {}).left == ()


def test_a_non_whole_head_size_on_an_open_grid_is_refused():
    d = derive()
    s, b, h, a = np.ix_(np.arange(1, 2001), [1, 2], [64, 96, 100], [4, 8])
    with pytest.raises(DerivationError, match=r"h/a is not a whole number at a=8, s=1, b=1, h=100"):
        evaluate_many(d, s=s, b=b, h=h, a=a)


# --- masks, shifts and guesses: the compiled fast path against the reference path -----------------

MIXED = {**VARIANTS,
         "tp+sp+selective": {"tensor_parallel": "t", "sequence_parallel": True, "recompute": "selective"},
         "model+sp+bits": {"scope": "model", "tensor_parallel": "t", "sequence_parallel": True,
                           "pipeline_parallel": "p", "interleave": "m", "mask_bytes": "bits"},
         "gqa-tp": {"kv_heads": "g", "tensor_parallel": "t"}}


def _outcome(call):
    try:
        return "ok", call().tolist()
    except DerivationError as error:
        return "error", str(error)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(sorted(MIXED)), st.integers(0, 2**32), st.sampled_from(["powers", "mixed", "late", "bad"]))
def test_the_fast_path_equals_the_reference_path_on_powers_of_two_and_not(name, seed, pattern):
    """Divisors that are powers of two in some blocks and not in others (masks and shifts, then
    remainders), a wrong guess in a late block, and invalid values: the same numbers or the same
    error as the reference path, which the elementwise tests check against evaluate."""
    d = derive(**MIXED[name])
    rng = np.random.default_rng(seed)
    size = 2 * vectorized.CHUNK + 77
    t = rng.choice([1, 2, 4], size)
    a = 4 * rng.choice([1, 2, 4], size) * (2 if "g" in [s.name for s in d.symbols] else 1)
    if pattern == "mixed":
        t = rng.choice([1, 2, 3, 4], size)
    elif pattern == "late":
        t[-5:] = 3
    values = {"s": 96 * rng.integers(1, 64, size), "b": rng.integers(1, 9, size),
              "h": 1536 * rng.integers(1, 16, size), "a": 12 * a if pattern != "powers" else a,
              "g": 4, "t": t, "f": 192 * rng.integers(1, 9, size), "c": rng.choice([1, 2], size),
              "L": 24 * rng.integers(1, 5, size), "p": rng.choice([1, 2, 4], size),
              "m": rng.choice([2, 3], size), "v": 512}
    if pattern == "bad":  # something that is not whole, somewhere late
        values["h"][-3] += 1
    arrays = {s.name: np.asarray(values[s.name]) for s in d.symbols}
    many = _outcome(lambda: evaluate_many(d, **arrays))
    assert many == _outcome(lambda: _reference(d, **arrays))
    if many[0] == "ok":
        k = int(rng.integers(0, size))
        assert many[1][k] == d.evaluate(**{n: int(np.asarray(v)[k]) if np.ndim(v) else int(v) for n, v in arrays.items()})


def test_a_wrong_guess_about_powers_of_two_in_a_late_block_is_corrected(monkeypatch):
    d = derive(tensor_parallel="t", sequence_parallel=True)
    size = 3 * vectorized.CHUNK
    t = np.full(size, 4)
    t[-1] = 3  # the last block's t is not a power of two: remainders there
    s = np.full(size, 48)
    many = evaluate_many(d, s=s, b=1, h=96, a=12, t=t)
    assert many.tolist() == [d.evaluate(s=48, b=1, h=96, a=12, t=int(x)) for x in t]


def test_blocks_are_cut_along_the_longest_axis():
    from derivation.vectorized.fast import _blocks

    columns = [np.ones((3, 1)), np.ones((1, 200_000))]
    blocks = list(_blocks((3, 200_000), columns))
    assert all(index[1].stop - index[1].start <= vectorized.CHUNK for index, _ in blocks[:-1])
    assert all(block[0].shape == (3, 1) and block[1].shape[0] == 1 for _, block in blocks)
    assert sum(block[1].shape[1] for _, block in blocks) == 200_000
