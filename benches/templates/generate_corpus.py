#!/usr/bin/env python3
"""Writes corpus.tsv: a labelled corpus for template mining, `<family>\t<message>` per line.

30 message families (six of them near twins of others, one word apart) in the shapes real systems write (HDFS and Hadoop, OpenStack nova, a
proxy, the Linux kernel, sshd, an HTTP service, a job runner), 8,000 lines, parameters
varied: numbers, ids, hex, UUIDs, IPs and ports, paths, URLs, user and host names. Fixed
seed: the same file every run.

    python3 benches/templates/generate_corpus.py
"""
import os
import random
import uuid

rng = random.Random(7)
HERE = os.path.dirname(os.path.abspath(__file__))


def ip():
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def blk():
    return f"blk_{rng.choice(['', '-'])}{rng.randrange(10**17, 10**19)}"


def hexid(n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


USERS = ["root", "admin", "alice", "bob", "deploy", "postgres", "oracle", "test", "guest", "ubuntu"]
HOSTS = ["www.google.com", "api.github.com", "cdn.jsdelivr.net", "proxy.cse.cuhk.edu.hk",
         "mail.example.org", "s3.amazonaws.com", "login.microsoftonline.com"]
APPS = ["chrome.exe", "firefox.exe", "outlook.exe", "Dropbox.exe", "svchost.exe", "git-remote-https.exe"]
PATHS = ["/api/v1/items", "/api/v1/orders", "/api/v2/users", "/healthz", "/api/v1/carts/checkout",
         "/static/app.js", "/login"]
JOBS = ["nightly-report", "invoice-export", "search-reindex", "thumbnail-sweep", "billing-sync"]
DEVICES = ["sda1", "sdb2", "nvme0n1p1", "dm-0"]

families = [
    # HDFS / Hadoop
    lambda: f"Receiving block {blk()} src: /{ip()}:{rng.randrange(40000, 60000)} dest: /{ip()}:50010",
    lambda: f"PacketResponder {rng.randrange(3)} for block {blk()} terminating",
    lambda: f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip()}:50010 is added to {blk()} size {rng.randrange(10**5, 10**8)}",
    lambda: f"Verification succeeded for {blk()}",
    lambda: f"Task attempt_{rng.randrange(10**12, 10**13)}_{rng.randrange(10000):04d}_m_{rng.randrange(10**6):06d}_{rng.randrange(4)} is done. And is in the process of committing",
    lambda: f"Deleting block {blk()} file /mnt/hadoop/dfs/data/current/subdir{rng.randrange(64)}/{blk()}",
    # OpenStack nova
    lambda: (f"nova.osapi_compute.wsgi.server [req-{uuid.UUID(int=rng.getrandbits(128))} {hexid(32)} {hexid(32)} - - -] "
             f"{ip()} \"GET /v2/{hexid(32)}/servers/detail HTTP/1.1\" status: {rng.choice([200, 200, 404])} "
             f"len: {rng.randrange(200, 2000)} time: {rng.random():.7f}"),
    lambda: f"nova.compute.manager [instance: {uuid.UUID(int=rng.getrandbits(128))}] VM Started (Lifecycle Event)",
    lambda: f"nova.virt.libvirt.imagecache Image {hexid(40)} at (/var/lib/nova/instances/_base/{hexid(40)}): checking",
    # proxy
    lambda: f"{rng.choice(APPS)} - {rng.choice(HOSTS)}:{rng.choice([80, 443, 5070])} open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS",
    lambda: (f"{rng.choice(APPS)} - {rng.choice(HOSTS)}:{rng.choice([80, 443])} close, {rng.randrange(100, 10**6)} bytes "
             f"({rng.random() * 900:.2f} KB) sent, {rng.randrange(100, 10**7)} bytes ({rng.random() * 9:.2f} MB) received, "
             f"lifetime {rng.randrange(60):02d}:{rng.randrange(60):02d}"),
    # kernel
    lambda: f"CPU{rng.randrange(16)}: Core temperature above threshold, cpu clock throttled (total events = {rng.randrange(1, 10**5)})",
    lambda: f"usb {rng.randrange(1, 4)}-{rng.randrange(1, 8)}: new high-speed USB device number {rng.randrange(2, 40)} using ehci-pci",
    lambda: f"EXT4-fs ({rng.choice(DEVICES)}): mounted filesystem with ordered data mode. Opts: (null)",
    lambda: f"Out of memory: Killed process {rng.randrange(1000, 99999)} ({rng.choice(['java', 'postgres', 'node', 'python3'])}) total-vm:{rng.randrange(10**5, 10**7)}kB",
    # sshd
    lambda: f"Accepted password for {rng.choice(USERS)} from {ip()} port {rng.randrange(1024, 65535)} ssh2",
    lambda: f"Failed password for invalid user {rng.choice(USERS)} from {ip()} port {rng.randrange(1024, 65535)} ssh2",
    lambda: f"pam_unix(sshd:session): session opened for user {rng.choice(USERS)} by (uid={rng.choice([0, 1000, 1001])})",
    lambda: f"Received disconnect from {ip()} port {rng.randrange(1024, 65535)}:11: Bye Bye [preauth]",
    # HTTP service
    lambda: f"request handled method={rng.choice(['GET', 'POST', 'PUT'])} path={rng.choice(PATHS)} status={rng.choice([200, 201, 204])} latency_ms={rng.random() * 300:.2f}",
    lambda: f"user {rng.choice(USERS)} signed in from {ip()}",
    lambda: f"cache miss for key session:{hexid(16)}, loading from database",
    # job runner
    lambda: f"job {rng.choice(JOBS)} run {uuid.UUID(int=rng.getrandbits(128))} finished in {rng.randrange(1, 5000)} ms with {rng.randrange(0, 10**6)} rows",
    lambda: f"job {rng.choice(JOBS)} failed: connection refused by {ip()}:5432 (attempt {rng.randrange(1, 6)} of 5)",
    # Near twins of families above, which must stay apart: one word differs.
    lambda: f"Accepted publickey for {rng.choice(USERS)} from {ip()} port {rng.randrange(1024, 65535)} ssh2",
    lambda: f"Connection closed by {ip()} port {rng.randrange(1024, 65535)} [preauth]",
    lambda: f"Connection reset by {ip()} port {rng.randrange(1024, 65535)} [preauth]",
    lambda: f"job {rng.choice(JOBS)} run {uuid.UUID(int=rng.getrandbits(128))} cancelled by {rng.choice(USERS)}",
    lambda: f"job {rng.choice(JOBS)} run {uuid.UUID(int=rng.getrandbits(128))} started by {rng.choice(USERS)}",
    lambda: f"request failed method={rng.choice(['GET', 'POST', 'PUT'])} path={rng.choice(PATHS)} status={rng.choice([500, 502, 503])} latency_ms={rng.random() * 3000:.2f}",
]

lines = []
for i in range(8000):
    family = rng.randrange(len(families))
    lines.append((family, families[family]()))
with open(os.path.join(HERE, "corpus.tsv"), "w") as out:
    for family, message in lines:
        out.write(f"F{family:02d}\t{message}\n")
print(len(lines), "lines,", len(families), "families")
