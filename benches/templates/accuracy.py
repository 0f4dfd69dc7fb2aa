#!/usr/bin/env python3
"""Grouping accuracy of `ttlog templates` and of the drain3 package on corpus.tsv, in one run.

Grouping accuracy (as in the loghub benchmarks): a line counts as correct when the set of
lines its tool put it with is exactly the set of lines of its labelled family. Also prints
each tool's number of templates and time.

    python3 -m venv /tmp/drain3 && /tmp/drain3/bin/pip install drain3==0.9.11
    cargo build --release -p ttlog-export
    /tmp/drain3/bin/python benches/templates/accuracy.py target/release/ttlog

drain3 runs with its defaults (no masking instructions, similarity 0.4, depth 4), the way the
issue's figure for it (about 0.73 on the public benchmarks) was measured; `--drain3-masking`
adds generic masks for numbers, hex and IPs as its README suggests.
"""
import collections
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def grouping_accuracy(labels, predicted):
    truth = collections.defaultdict(set)
    groups = collections.defaultdict(set)
    for i, (label, group) in enumerate(zip(labels, predicted)):
        truth[label].add(i)
        groups[group].add(i)
    correct = sum(1 for i, (label, group) in enumerate(zip(labels, predicted))
                  if truth[label] == groups[group])
    return correct / len(labels)


def run_ttlog(binary, messages):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write("\n".join(messages) + "\n")
        path = f.name
    start = time.perf_counter()
    out = subprocess.run([binary, "templates", path], check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    os.unlink(path)
    ids = [line.split("\t", 1)[0] for line in out.splitlines()]
    assert len(ids) == len(messages), (len(ids), len(messages))
    return ids, elapsed


def run_drain3(messages, masking):
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig
    from drain3.masking import MaskingInstruction
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    if masking:
        config.masking_instructions = [
            MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
            MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
            MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
            MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
            MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
            MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
        ]
    miner = TemplateMiner(config=config)
    start = time.perf_counter()
    for message in messages:
        miner.add_log_message(message)
    # Second pass, as `ttlog templates` does: each line's final cluster.
    ids = [miner.match(message).cluster_id if miner.match(message) else -1 for message in messages]
    elapsed = time.perf_counter() - start
    return ids, elapsed


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/ttlog"
    labels, messages = [], []
    with open(os.path.join(HERE, "corpus.tsv")) as f:
        for line in f:
            label, message = line.rstrip("\n").split("\t", 1)
            labels.append(label)
            messages.append(message)
    print(f"corpus: {len(messages)} lines, {len(set(labels))} families")
    print(f"{'tool':<28} {'grouping accuracy':>18} {'templates':>10} {'seconds':>8}")
    ids, seconds = run_ttlog(binary, messages)
    print(f"{'ttlog templates':<28} {grouping_accuracy(labels, ids):>18.3f} {len(set(ids)):>10} {seconds:>8.2f}")
    for masking in (False, True):
        ids, seconds = run_drain3(messages, masking)
        name = "drain3 0.9.11" + (" + masking" if masking else " (defaults)")
        print(f"{name:<28} {grouping_accuracy(labels, ids):>18.3f} {len(set(ids)):>10} {seconds:>8.2f}")


if __name__ == "__main__":
    main()
