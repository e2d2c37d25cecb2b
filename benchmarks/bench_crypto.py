"""Encrypted ML: veil's HE inference vs TenSEAL direct vs plaintext; secret-shared sums and dots.

The settings of the issue that asked for it:

- logistic regression with 100 features on 1,000 samples, CKKS N = 8192,
  primes [60, 40, 40, 60], scale 2^40, one feature per ciphertext (the same
  packing for veil and for TenSEAL called directly); the client's encryption,
  the server's evaluation and the client's decryption are timed apart, and
  veil's whole HTTP round trip (serialization, a local server) is reported too;
- a secure sum of 1,000,000 values held by 3 owners, each a party process on
  127.0.0.1 with authenticated sockets, against numpy's sum and against
  plain in-process numpy sharing;
- secret-shared dot products (1,000 x 100 by 100, 3 parties, a Beaver matrix
  triple and one truncation) in process and across party processes.
"""

from __future__ import annotations

import time

import numpy as np
import tenseal as ts
from scipy.special import expit

from harness import markdown_table, side_by_side, update_section
from veil.crypto.he import Dense, HEContext, HEModel, decrypt, encrypt
from veil.crypto.mpc import (
    Dealer,
    decode,
    encode,
    matmul,
    reveal,
    secure_sum,
    share,
    share_values,
    shared_predict,
)
from veil.crypto.service import HEClient, HEServer

N_SAMPLES, N_FEATURES = 1000, 100
SUM_VALUES = 1_000_000


def _he_section() -> tuple[str, dict[str, float]]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    w, b = rng.normal(size=N_FEATURES) * 0.1, 0.3
    model = HEModel([Dense(w[None, :], [b])], link="sigmoid", outputs=("probability",))
    plain = expit(X @ w + b)

    keys = HEContext.generate(model.parameters())
    server = HEContext.from_public_bytes(keys.public_bytes, keys.parameters)
    raw = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
    raw.global_scale = 2.0**40
    raw_sym = ts.context(
        ts.SCHEME_TYPE.CKKS,
        8192,
        coeff_mod_bit_sizes=[60, 40, 40, 60],
        encryption_type=ts.ENCRYPTION_TYPE.SYMMETRIC,
    )
    raw_sym.global_scale = 2.0**40
    assert keys.parameters.coeff_mod_bit_sizes == (60, 40, 40, 60)

    out: dict[str, object] = {}
    stages: dict[str, dict[str, float]] = {}

    def veil_run() -> None:
        t0 = time.perf_counter()
        batch = encrypt(keys, X)
        t1 = time.perf_counter()
        scores = model.evaluate(batch, server)
        t2 = time.perf_counter()
        out["veil"] = model.finish(decrypt(keys, scores))[:, 0]
        t3 = time.perf_counter()
        stages["veil"] = {"encrypt": t1 - t0, "evaluate": t2 - t1, "decrypt": t3 - t2}

    def tenseal_run(name: str, ctx: ts.Context) -> None:
        t0 = time.perf_counter()
        cols = [ts.ckks_vector(ctx, X[:, j].tolist()) for j in range(N_FEATURES)]
        t1 = time.perf_counter()
        acc = cols[0] * float(w[0])
        for j in range(1, N_FEATURES):
            acc += cols[j] * float(w[j])
        acc += b
        t2 = time.perf_counter()
        out[name] = expit(np.array(acc.decrypt()))
        t3 = time.perf_counter()
        stages[name] = {"encrypt": t1 - t0, "evaluate": t2 - t1, "decrypt": t3 - t2}

    def plain_run() -> None:
        out["plaintext"] = expit(X @ w + b)

    times = side_by_side(
        {
            "veil": veil_run,
            "TenSEAL direct": lambda: tenseal_run("TenSEAL direct", raw),
            "TenSEAL direct, secret-key encryption": lambda: tenseal_run(
                "TenSEAL direct, secret-key encryption", raw_sym
            ),
            "plaintext (numpy)": plain_run,
        },
        repeat=5,
        warmup=1,
    )
    with HEServer(model) as srv:
        client = HEClient(srv.url)  # keys made and the public context registered once
        start = time.perf_counter()
        http = client.predict(X)[:, 0]
        http_s = time.perf_counter() - start
    rows = []
    for name, seconds in times.items():
        got = out.get(name if name != "plaintext (numpy)" else "plaintext")
        st = stages.get(name, {})
        rows.append(
            [
                name,
                f"{seconds / N_SAMPLES * 1e3:.4f}",
                f"{N_SAMPLES / seconds:,.0f}",
                f"{st['encrypt']:.3f} / {st['evaluate']:.3f} / {st['decrypt']:.3f}" if st else "-",
                f"{np.max(np.abs(np.asarray(got) - plain)):.1e}",
                f"{seconds / times['TenSEAL direct']:.2f}",
            ]
        )
    rows.append(
        [
            "veil over HTTP (local server)",
            f"{http_s / N_SAMPLES * 1e3:.4f}",
            f"{N_SAMPLES / http_s:,.0f}",
            "with serialization and the POST",
            f"{np.max(np.abs(http - plain)):.1e}",
            f"{http_s / times['TenSEAL direct']:.2f}",
        ]
    )
    table = markdown_table(
        [
            "path",
            "ms / sample",
            "predictions / s",
            "encrypt / evaluate / decrypt (s)",
            "max error",
            "time / TenSEAL",
        ],
        rows,
    )
    with_galois = raw.copy()
    with_galois.generate_galois_keys()
    galois_mb = len(with_galois.serialize(save_secret_key=False)) / 1e6
    one = _one_sample(model, keys, server, with_galois, X[:1], w, b)
    request_mb = len(encrypt(keys, X).to_bytes()) / 1e6
    facts = {
        "ratio": times["veil"] / times["TenSEAL direct"],
        "ratio_sym": times["veil"] / times["TenSEAL direct, secret-key encryption"],
        "rate": N_SAMPLES / times["veil"],
        "context_mb": len(keys.public_bytes) / 1e6,
        "galois_mb": galois_mb,
        "request_mb": request_mb,
    }
    md = f"""### HE: logistic regression, {N_FEATURES} features, {N_SAMPLES:,} samples

CKKS, N = 8192, primes [60, 40, 40, 60], scale 2^40; one feature per
ciphertext, {N_SAMPLES:,} samples in its slots (veil and TenSEAL direct alike).
The client applies the sigmoid after decryption, exactly. veil encrypts with
the secret key (CKKS's symmetric mode: the client holds the key, and the
server never encrypts); TenSEAL's default is public-key encryption, so both
are shown. Median of 5 rounds, called in turn.

{table}

veil's server context (relinearization keys; no public key, and no Galois
keys, which no model with this packing needs): **{facts["context_mb"]:.2f} MB**; with
Galois keys it would be {galois_mb:.1f} MB. One request of {N_SAMPLES:,}
samples is {request_mb:.1f} MB of ciphertexts.

This packing scores a batch at once; a single sample still costs
{N_FEATURES} encryptions: **{one["veil"] * 1e3:.0f} ms** for one sample with
veil, against **{one["rows"] * 1e3:.0f} ms** with TenSEAL packing the sample's
features into one ciphertext and summing them by rotations (`dot`), which
needs the {galois_mb:.0f} MB context with Galois keys. Send rows in batches.
"""
    return md, facts


def _one_sample(
    model: HEModel,
    keys: HEContext,
    server: HEContext,
    galois: ts.Context,
    x: np.ndarray,
    w: np.ndarray,
    b: float,
) -> dict[str, float]:
    """One sample's latency: veil's column packing against one-ciphertext rows with rotations."""

    def veil_one() -> None:
        decrypt(keys, model.evaluate(encrypt(keys, x), server))

    def rows_one() -> None:
        (ts.ckks_vector(galois, x[0].tolist()).dot(w.tolist()) + b).decrypt()

    return side_by_side({"veil": veil_one, "rows": rows_one}, repeat=5, warmup=1)


def _mpc_section() -> tuple[str, dict[str, float]]:
    rng = np.random.default_rng(1)
    vectors = [rng.normal(size=SUM_VALUES) * 1000 for _ in range(3)]
    want = vectors[0] + vectors[1] + vectors[2]
    timings: dict[str, float] = {}
    protocol, total, err = [], [], 0.0
    for _ in range(3):
        got = secure_sum(vectors, timings=timings)
        protocol.append(timings["protocol_s"])
        total.append(timings["total_s"])
        err = max(err, float(np.max(np.abs(got - want))))
    encoded = [encode(v) for v in vectors]

    def numpy_sharing() -> None:
        shares = [share(e, 3) for e in encoded]
        sum(sum(s) for s in shares)

    ref = side_by_side(
        {"numpy sum": lambda: np.sum(want), "numpy sharing": numpy_sharing}, repeat=5
    )
    X, w = rng.normal(size=(N_SAMPLES, N_FEATURES)), rng.normal(size=N_FEATURES)
    dealer = Dealer(3)
    xs, ws = share_values(X, 3), share_values(w, 3)
    dots = side_by_side(
        {"shared": lambda: reveal(matmul(xs, ws, dealer)), "numpy": lambda: X @ w}, repeat=5
    )
    exact = decode(encode(X)) @ decode(encode(w))
    dot_err = float(np.max(np.abs(reveal(matmul(xs, ws, dealer)) - exact)))
    net: dict[str, float] = {}
    net_scores = shared_predict(w, 0.0, X, n_parties=3, timings=net)
    net_err = float(np.max(np.abs(net_scores - exact)))
    rows = [
        [
            "veil secure_sum, 3 party processes",
            f"{np.median(protocol) * 1e3:.0f}",
            f"{np.median(total) * 1e3:.0f} with process start",
            f"{err:.1e}",
        ],
        [
            "numpy, 3 owners' shares in one process",
            f"{ref['numpy sharing'] * 1e3:.0f}",
            "share + sum",
            "0",
        ],
        ["numpy sum (no privacy)", f"{ref['numpy sum'] * 1e3:.1f}", "-", "-"],
        [
            f"shared dot products {N_SAMPLES:,} x {N_FEATURES}, 3 parties in process",
            f"{dots['shared'] * 1e3:.1f}",
            f"numpy {dots['numpy'] * 1e3:.2f} ms",
            f"{dot_err:.1e}",
        ],
        [
            "same, 3 party processes + dealer",
            f"{net['protocol_s'] * 1e3:.0f}",
            f"{net['total_s'] * 1e3:.0f} with process start",
            f"{net_err:.1e}",
        ],
    ]
    table = markdown_table(["computation", "ms", "notes", "max error"], rows)
    md = f"""### Secret sharing: secure sum of {SUM_VALUES:,} values, shared dot products

Secure sum: 3 owners each hold {SUM_VALUES:,} values (x 1000) in their own
party process; each shares its vector (random words from the OS), sends the
shares over HMAC-SHA256 channels, and party 0 opens the total. "ms" is the
slowest party's protocol time (sockets connected to output); process start is
in the notes. Error against the float sum: fixed point, 2^-16 per value.
Dot products: one Beaver matrix triple and one dealer-assisted truncation;
error against the product of the rounded inputs (bound: 2^-16 = 1.5e-5).
Median of 3 runs (processes) or 5 (in process).

{table}
"""
    return md, {"sum_ms": float(np.median(protocol) * 1e3)}


def main() -> None:
    he_md, he = _he_section()
    mpc_md, mpc = _mpc_section()
    verdict = (
        f"veil's HE path takes {he['ratio']:.2f}x the time of TenSEAL used directly with its "
        f"default public-key encryption and {he['ratio_sym']:.2f}x TenSEAL with the same "
        "secret-key encryption (target: within 1.2x), "
        f"{he['rate']:,.0f} predictions/s (target: 2,000), public context "
        f"{he['context_mb']:.2f} MB (target: 2 MB); the 3-party secure sum of 1M values "
        f"takes {mpc['sum_ms']:.0f} ms of protocol (target: 0.5 s)."
    )
    md = f"""## Encrypted ML (`benchmarks/bench_crypto.py`)

{verdict}

{he_md}
{mpc_md}"""
    update_section("crypto", md)
    print(md)


if __name__ == "__main__":
    main()
