#!/usr/bin/env python3
"""ct2-peer: CTranslate2 beside moebench on the same weights and inputs.

Optional, never part of moebench itself (docs/ctranslate2.md). Given a moebench model,
its CTranslate2 export (`moebench export MODEL --format ctranslate2 -o DIR`) and source
sentences as token ids (one sentence a line, the words only, as `moebench translate --ids`
reads them), it

  1. runs `moebench translate MODEL --ids --scores` once: the reference outputs;
  2. for every precision x threads x batch size: loads a CTranslate2 Translator, translates
     the sources greedily, checks that the outputs equal moebench's token for token (the
     agreement share is printed and is the exit status's condition for fp32), and times
     `--reps` repetitions after `--warmup` untimed ones;
  3. scores moebench's outputs with CTranslate2 (score_batch) and compares the
     log-probabilities with moebench's --scores (fp32; tolerance below);
  4. writes one row per repetition in moebench's results CSV schema (common/mb_schema.h),
     backend `ctranslate2`, so `moebench report` and `moebench compare` read them beside
     moebench's own rows (`-o FILE`; `--append` adds to an existing results CSV).

What is timed, as moebench's offline mode times a repetition: the sources in file order,
in batches of B consecutive sentences; each `translate_batch` call from just before it to
just after it returns is one batch latency; wall_s is the whole loop. Inside the region:
CTranslate2's token-string to id lookup, the encoder, greedy decoding to EOS or the length
limit, id to string. Outside: loading the model, reading the inputs, building the token
lists, the agreement and score checks. A batch runs to the largest length limit of its
sentences (CTranslate2 has one max_decoding_length per call); tgt_tokens counts what
CTranslate2 generated, the agreement compares each sentence up to its own limit
min(--max-len, 2 * words + 10), moebench's rule.

Exit status: 0 done (every fp32 configuration agrees with moebench on at least
--min-agreement of the sentences, and its scores are within tolerance); 1 an fp32
disagreement or a score outside tolerance; 2 bad usage or a failure; 77 skipped because
the ctranslate2 package is not importable (the message says so).
"""
import argparse
import csv
import json
import os
import re
import resource
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
# |moebench score - CTranslate2 score| <= ABS + REL * |score| per sentence (fp32): both sum
# fp32 log-softmax values of the same logits computed with different GEMM kernels and
# summation orders. Measured: about 1e-7 relative on tiny models, ~1e-2 of this tolerance.
SCORE_ABS, SCORE_REL = 1e-4, 1e-5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die(msg, code=2):
    print("ct2-peer: " + msg, file=sys.stderr)
    sys.exit(code)


def parse_list(text, what, conv=int):
    try:
        vals = [conv(x) for x in text.split(",") if x]
    except ValueError:
        die("%s: '%s' is not a comma-separated list" % (what, text))
    if not vals:
        die("%s: empty list" % what)
    return vals


def schema_columns(path):
    """The column names of a results CSV, from common/mb_schema.h."""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        die("%s: %s; run from moebench's source tree or give --append EXISTING.csv" % (path, e.strerror))
    block = re.search(r"#define MB_SCHEMA_COLUMNS\(X\)(.*?)\n\n", text, re.S)
    version = re.search(r"#define MB_SCHEMA_VERSION (\d+)", text)
    if not block or not version:
        die("%s: no MB_SCHEMA_COLUMNS / MB_SCHEMA_VERSION found" % path)
    return re.findall(r"X\(([a-z0-9_]+)\)", block.group(1)), version.group(1)


def safetensors_params(path):
    """Parameters of a moebench model file: every tensor but the vocabulary bytes."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    total = 0
    for name, t in header.items():
        if name == "__metadata__" or t.get("dtype") == "U8":
            continue
        size = 1
        for s in t["shape"]:
            size *= s
        total += size
    return total


def machine():
    """The identity cells moebench fills (harness/runid.c), read the same way."""
    info = {}
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                break
            if ":" in line:
                k, v = line.split(":", 1)
                info.setdefault(k.strip(), v.strip())
    wanted = ["avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
              "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8"]
    have = set(info.get("flags", "").split())
    flags = " ".join(w for w in wanted if w in have)
    kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                kb = int(line.split()[1])
    pretty = ""
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                pretty = line[12:].strip().strip('"')
    except OSError:
        pass
    u = os.uname()
    cores = os.cpu_count() or 1
    cells = {
        "cpu_model": info.get("model name", "unknown"), "cores": str(cores),
        "cpu_vendor": info.get("vendor_id", ""), "cpu_family": info.get("cpu family", ""),
        "cpu_model_id": info.get("model", ""), "cpu_stepping": info.get("stepping", ""),
        "cpu_flags": flags, "cpu_mhz": info.get("cpu MHz", ""),
        "mem_total_mb": str(kb // 1024) if kb else "",
        "os": "%s%s%s %s %s" % (pretty, "; " if pretty else "", u.sysname, u.release, u.machine),
    }
    ident = "%s|%s|%s|%s|%s|%s|%d|%d" % (cells["cpu_model"], cells["cpu_vendor"], cells["cpu_family"],
                                         cells["cpu_model_id"], cells["cpu_stepping"], flags, cores,
                                         kb // (1024 * 1024))
    h = 0xcbf29ce484222325
    for b in ident.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    cells["machine_id"] = "%016x" % h
    return cells


def percentile(sorted_x, p):
    """Nearest rank, as moebench (common/mb_stats.c)."""
    import math
    n = len(sorted_x)
    rank = math.ceil(p / 100.0 * n)
    return sorted_x[min(max(rank, 1), n) - 1]


def moebench_reference(args, sources, task):
    cmd = [args.moebench, "translate", args.model, "--task", task, "--ids", "--scores",
           "--max-len", str(args.max_len), "--backend", args.moebench_backend]
    with tempfile.TemporaryFile("w+") as src:
        src.write("".join(" ".join(map(str, s)) + "\n" for s in sources))
        src.seek(0)
        p = subprocess.run(cmd, stdin=src, capture_output=True, text=True)
    if p.returncode != 0:
        die("moebench translate failed (status %d): %s" % (p.returncode, p.stderr.strip()))
    out, scores = [], []
    for line in p.stdout.splitlines():
        ids, _, score = line.partition("\t")
        out.append([int(x) for x in ids.split()])
        scores.append(float(score))
    if len(out) != len(sources):
        die("moebench translate wrote %d lines for %d sources" % (len(out), len(sources)))
    return out, scores


def limit(words, max_len):
    return min(max_len, 2 * words + 10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("model", help="the moebench model file (.safetensors)")
    ap.add_argument("ct2_dir", help="its CTranslate2 export (moebench export --format ctranslate2)")
    ap.add_argument("--src", required=True, help="source token ids, one sentence a line (words only)")
    ap.add_argument("--task", help="task (en-de); may be left out when the model serves one task")
    ap.add_argument("--batch", default="1,32", help="batch sizes (default 1,32)")
    ap.add_argument("--threads", default="1", help="CTranslate2 intra_threads values (default 1)")
    ap.add_argument("--precision", default="fp32", help="fp32 and/or int8 (default fp32)")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions per configuration (default 3)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed repetitions first (default 1)")
    ap.add_argument("--max-len", type=int, default=256, help="output limit, as moebench's --max-len (default 256)")
    ap.add_argument("--min-agreement", type=float, default=1.0,
                    help="share of sentences fp32 must get identical (default 1.0)")
    ap.add_argument("--moebench", default=os.environ.get("MOEBENCH", os.path.join(ROOT, "build", "moebench")),
                    help="the moebench program (default $MOEBENCH or build/moebench)")
    ap.add_argument("--moebench-backend", default="ref", help="backend of the reference translation (default ref)")
    ap.add_argument("--scenario", default="ct2-peer", help="the scenario cell of the rows (default ct2-peer)")
    ap.add_argument("-o", "--output", help="results CSV to write (temporary file, then renamed)")
    ap.add_argument("--append", action="store_true", help="add the rows to the existing -o CSV (same header)")
    args = ap.parse_args()

    try:
        import ctranslate2
    except ImportError as e:
        print("ct2-peer: skipped: the ctranslate2 Python package is not importable (%s); "
              "'pip install ctranslate2' to run the peer" % e, file=sys.stderr)
        sys.exit(SKIP)

    batches = parse_list(args.batch, "--batch")
    threads = parse_list(args.threads, "--threads")
    precisions = parse_list(args.precision, "--precision", str)
    for p in precisions:
        if p not in ("fp32", "int8"):
            die("--precision: '%s' is not fp32 or int8" % p)
    if min(batches) < 1 or min(threads) < 1 or args.reps < 1 or args.warmup < 0 or args.max_len < 1:
        die("--batch, --threads, --reps and --max-len must be positive, --warmup not negative")
    try:
        meta = json.load(open(os.path.join(args.ct2_dir, "moebench.json"), encoding="utf-8"))
        vocab = json.load(open(os.path.join(args.ct2_dir, "shared_vocabulary.json"), encoding="utf-8"))
    except (OSError, ValueError) as e:
        die("%s: not a moebench CTranslate2 export (%s); make one with 'moebench export MODEL "
            "--format ctranslate2 -o DIR'" % (args.ct2_dir, e))
    tags = meta["task_tag_token"]
    task = args.task or (next(iter(tags)) if len(tags) == 1 else None)
    if task not in tags:
        die("--task: give one of %s" % ", ".join(sorted(tags)))
    to_id = {t: i for i, t in enumerate(vocab)}
    eos = vocab[meta["eos_id"]]
    try:
        sources = [[int(x) for x in line.split()] for line in open(args.src, encoding="utf-8")]
    except (OSError, ValueError) as e:
        die("%s: cannot read token ids: %s" % (args.src, e))
    if not sources:
        die("%s: no sentences" % args.src)
    for n, s in enumerate(sources):
        if any(x < 0 or x >= len(vocab) for x in s):
            die("%s:%d: an id outside the vocabulary of %d" % (args.src, n + 1, len(vocab)))
    if args.output:
        out_dir = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(out_dir) or os.path.isdir(args.output):
            die("%s: cannot write the results CSV there; give a file in an existing folder" % args.output)
        if args.append and not os.path.isfile(args.output):
            die("%s: --append needs an existing results CSV" % args.output)

    ref, ref_scores = moebench_reference(args, sources, task)
    ct2_src = [[tags[task]] + [vocab[x] for x in s] + [eos] for s in sources]
    limits = [limit(len(s), args.max_len) for s in sources]

    ident = machine()
    try:
        mb_version = subprocess.run([args.moebench, "--version"], capture_output=True, text=True).stdout.split()[-1]
    except (OSError, IndexError):
        mb_version = ""
    params = safetensors_params(args.model)
    try:
        rows, failed = measure(args, ctranslate2, meta, vocab, to_id, sources, ct2_src, limits, ref, ref_scores,
                               precisions, threads, batches, ident, mb_version, params, task)
    except (RuntimeError, ValueError) as e:  # what CTranslate2 raises, e.g. a sequence past the position table
        die("ctranslate2: %s" % e)
    if args.output:
        write_csv(args, rows)
        print("ct2-peer: wrote %d rows to %s" % (len(rows), args.output))
    sys.exit(1 if failed else 0)


def measure(args, ctranslate2, meta, vocab, to_id, sources, ct2_src, limits, ref, ref_scores, precisions, threads,
            batches, ident, mb_version, params, task):
    run_id = "%016x" % int.from_bytes(os.urandom(8), "little")
    rows, failed = [], False
    for prec in precisions:
        ctype = "float32" if prec == "fp32" else "int8"
        for nt in threads:
            tr = ctranslate2.Translator(args.ct2_dir, device="cpu", compute_type=ctype, inter_threads=1,
                                        intra_threads=nt)
            if prec == "fp32" and nt == threads[0]:
                # moebench's scores of its own outputs, recomputed by CTranslate2 (teacher-forced)
                res = tr.score_batch(ct2_src, [[vocab[x] for x in o] for o in ref], max_input_length=0)
                worst = 0.0
                for i, r in enumerate(res):
                    lp = r.log_probs if len(ref[i]) < limits[i] else r.log_probs[:-1]  # EOS only if it ended there
                    d = abs(sum(lp) - ref_scores[i])
                    worst = max(worst, d / (SCORE_ABS + SCORE_REL * abs(ref_scores[i])))
                ok = worst <= 1.0
                failed |= not ok
                print("ct2-peer: scores of moebench's outputs: worst |difference| is %.3g of the tolerance "
                      "(%g + %g x |score|): %s" % (worst, SCORE_ABS, SCORE_REL, "ok" if ok else "OUTSIDE"))
            for b in batches:
                def run_once(keep):
                    lat, outs, gen = [], [], 0
                    cpu0, t0 = time.process_time(), time.perf_counter()
                    for i in range(0, len(sources), b):
                        chunk, lim = ct2_src[i:i + b], max(limits[i:i + b])
                        tb = time.perf_counter()
                        res = tr.translate_batch(chunk, beam_size=1, max_decoding_length=lim,
                                                 min_decoding_length=0, max_input_length=0)
                        lat.append(time.perf_counter() - tb)
                        for r in res:
                            gen += len(r.hypotheses[0])
                            if keep:
                                outs.append(r.hypotheses[0])
                    return time.perf_counter() - t0, time.process_time() - cpu0, lat, outs, gen

                for _ in range(args.warmup):
                    run_once(False)
                agree, first_bad = 0, None
                for rep in range(1, args.reps + 1):
                    wall, cpu, lat, outs, gen = run_once(rep == 1)
                    if rep == 1:
                        for i, hyp in enumerate(outs):
                            got = [to_id.get(t, -1) for t in hyp][:limits[i]]
                            if got == ref[i]:
                                agree += 1
                            elif first_bad is None:
                                first_bad = (i, got, ref[i])
                    rows.append(make_row(args, meta, ident, mb_version, params, run_id, task, prec, ctype, nt, b,
                                         rep, sources, gen, wall, cpu, lat, ctranslate2.__version__))
                share = agree / len(sources)
                print("ct2-peer: %s t%d b%d: %d/%d sentences identical to moebench (%.1f%%), %.1f target tokens/s "
                      "(rep 1)" % (prec, nt, b, agree, len(sources), 100 * share, float(rows[-args.reps]["tgt_tok_per_s"])))
                if first_bad:
                    i, got, want = first_bad
                    print("ct2-peer:   first difference: sentence %d: ctranslate2 %s, moebench %s"
                          % (i + 1, " ".join(map(str, got[:12])), " ".join(map(str, want[:12]))))
                if prec == "fp32" and share < args.min_agreement:
                    failed = True
            del tr
    return rows, failed


def make_row(args, meta, ident, mb_version, params, run_id, task, prec, ctype, nt, b, rep, sources, gen,
             wall, cpu, lat, ct2_version):
    src_tokens = sum(len(s) + 2 for s in sources)  # tag and EOS, as moebench counts them
    lat = sorted(lat)
    mean = sum(lat) / len(lat)
    std = (sum((x - mean) ** 2 for x in lat) / (len(lat) - 1)) ** 0.5 if len(lat) > 1 else 0.0
    util = cpu / (wall * nt) if wall > 0 else 0.0
    starved = util < 0.5  # moebench's rule where it has no schedstat (harness/busy.c)
    row = dict(ident)
    row.update({
        "run_id": run_id, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scenario": args.scenario, "mode": "offline", "variant": meta.get("variant", ""),
        "preset": meta.get("preset", ""), "backend": "ctranslate2", "precision": prec, "threads": str(nt),
        "task": task, "batch_size": str(b), "decode": "greedy", "rep": str(rep),
        "sentences": str(len(sources)), "src_tokens": str(src_tokens), "tgt_tokens": str(gen),
        "wall_s": "%.6f" % wall, "tgt_tok_per_s": "%.3f" % (gen / wall), "src_tok_per_s": "%.3f" % (src_tokens / wall),
        "sent_per_s": "%.4f" % (len(sources) / wall),
        "latency_mean_ms": "%.4f" % (mean * 1e3), "latency_std_ms": "%.4f" % (std * 1e3),
        "latency_p50_ms": "%.4f" % (percentile(lat, 50) * 1e3), "latency_p90_ms": "%.4f" % (percentile(lat, 90) * 1e3),
        "latency_p99_ms": "%.4f" % (percentile(lat, 99) * 1e3),
        "peak_rss_mb": "%.1f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0), "rss_scope": "process",
        # every model the export takes uses all its weights for every token (dense, or a sub-network whose
        # experts all serve every token), so served and active are the total, as moebench counts them
        "params_total": str(params), "params_served": str(params), "params_active": str(params),
        "model_bytes": str(4 * params) if prec == "fp32" else "", "task_clock_ms": "%.3f" % (cpu * 1e3),
        "counters_note": "ctranslate2 peer: no counters", "quality_note": "ctranslate2 peer: no references",
        "weights": "file:" + os.path.basename(args.model), "moebench_version": mb_version,
        "backend_version": "CTranslate2 %s, compute_type %s, intra_threads %d" % (ct2_version, ctype, nt),
        "kernel": "ctranslate2 %s %s" % (ct2_version, ctype), "cpu_util": "%.3f" % util,
        "load_avg_1m": "%.2f" % os.getloadavg()[0], "starved": "1" if starved else "0",
        "starved_note": "the process got %.0f%% of %d threads x wall time (< 50%%)" % (100 * util, nt) if starved else "",
    })
    return row


def write_csv(args, rows):
    if args.append:
        with open(args.output, newline="", encoding="utf-8") as f:
            old = list(csv.reader(f))
        if not old:
            die("%s: empty; --append needs a results CSV with its header" % args.output)
        columns, old_rows = old[0], old[1:]
        if "schema_version" not in columns or "backend" not in columns:
            die("%s: not a moebench results CSV (no schema_version/backend columns)" % args.output)
        version = old_rows[0][columns.index("schema_version")] if old_rows else "2"
    else:
        columns, version = schema_columns(os.path.join(ROOT, "common", "mb_schema.h"))
        old_rows = []
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(args.output) + ".", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(args.output)))
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(columns)
            w.writerows(old_rows)
            for r in rows:
                r["schema_version"] = version
                w.writerow([r.get(c, "") for c in columns])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, args.output)
    except OSError as e:
        os.unlink(tmp)
        die("%s: cannot write: %s" % (args.output, e.strerror))


if __name__ == "__main__":
    main()
