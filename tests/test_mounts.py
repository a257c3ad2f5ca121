"""Per-trial mounts: container paths rewritten to a trial's own directories."""

from __future__ import annotations

from tunery.mounts import Mount, Rewriter, mentions, mount_root, names_exactly, rewrite


def test_rewrites_whole_path_components_only() -> None:
    r = Rewriter([Mount("/katib", "/runs/t1/metrics")])
    assert r.text("--log-path=/katib/mnist.log") == "--log-path=/runs/t1/metrics/mnist.log"
    assert r.text("/katib") == "/runs/t1/metrics"
    assert r.text("/katib2/x /opt/katib/x") == "/katib2/x /opt/katib/x"
    assert r.text("a=/katib/x,b=/katib/y") == "a=/runs/t1/metrics/x,b=/runs/t1/metrics/y"


def test_trailing_slash_of_the_container_path_is_ignored() -> None:
    r = Rewriter([Mount("/var/log/katib/tfevent/", "/r/t/metrics")])
    assert r.text("--log_dir=/var/log/katib/tfevent/") == "--log_dir=/r/t/metrics/"
    assert r.text("--log_dir=/var/log/katib/tfevent") == "--log_dir=/r/t/metrics"


def test_longest_mount_wins_in_one_pass() -> None:
    mounts = [Mount("/var/log/katib", "/r/t/metrics"), Mount("/var/log/katib/ckpt", "/r/c/t")]
    argv, env = rewrite(
        mounts, ["train", "--m=/var/log/katib/m.log", "--c=/var/log/katib/ckpt/x"], {"A": "/var"}
    )
    assert argv == ("train", "--m=/r/t/metrics/m.log", "--c=/r/c/t/x")
    assert env == {"A": "/var"}


def test_shell_scripts_get_quoted_replacements() -> None:
    r = Rewriter([Mount("/katib", "/runs/my trial/metrics")])
    argv = r.argv(["sh", "-c", "python3 t.py --log=/katib/m.log --q='/katib/n.log'"])
    assert (
        argv[2]
        == "python3 t.py --log='/runs/my trial/metrics'/m.log --q='/runs/my trial/metrics/n.log'"
    )
    # outside sh -c nothing is quoted
    assert r.argv(["python3", "--log=/katib/m.log"]) == (
        "python3",
        "--log=/runs/my trial/metrics/m.log",
    )


def test_no_mounts_changes_nothing() -> None:
    r = Rewriter([])
    assert not r
    assert r.argv(["a", "/katib"]) == ("a", "/katib")
    assert not Rewriter([Mount("/", "/x")])  # never the whole file system


def test_mentions_and_exact_names() -> None:
    assert mentions("/katib", ["--x=/katib/m.log"])
    assert not mentions("/katib", ["--x=/katibx/m.log"])
    assert names_exactly("/logs", ["--log-path=/logs"])
    assert names_exactly("/logs", ["--log-path=/logs/"])
    assert not names_exactly("/logs", ["--log-path=/logs/test"])


def test_mount_root_is_the_shortest_named_ancestor() -> None:
    # Katib's TF-summaries example: the collector reads /logs/test, the trial writes /logs.
    assert mount_root("/logs/test", ["--log-path=/logs"]) == "/logs"
    assert mount_root("/logs/test", ["--log-path=/logs/test"]) == "/logs/test"
    assert mount_root("/var/log/katib/tfevent/", ["--d=/var/log/katib/tfevent/"]) == (
        "/var/log/katib/tfevent"
    )
