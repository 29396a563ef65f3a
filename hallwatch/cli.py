"""`hallwatch`: the one command-line entry point."""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import tempfile
import threading
from pathlib import Path

from core.config import SiteConfig, ZoneKind, load_site
from core.errors import HallwatchError
from core.logs import setup_logging
from hallwatch.leases import HEARTBEAT_S, LEASE_TTL_S, LeaseTimings, default_worker_id

log = logging.getLogger("hallwatch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hallwatch", description=__doc__)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="simulated cameras + analysis + web app on an embedded database")
    demo.add_argument("--site", type=Path, help="site file (default: the example site)")
    _add_serve_args(demo)
    demo.add_argument("--seed", type=int, default=7, help="simulator script seed")
    from hallwatch.demo import add_history_args

    add_history_args(demo)
    demo.set_defaults(func=cmd_demo)

    run = commands.add_parser("run", help="analyse the site's cameras and serve the web app")
    run.add_argument("--site", type=Path, required=True)
    run.add_argument("--web-only", action="store_true",
                     help="serve the web app only; `hallwatch worker` processes analyse the cameras")
    _add_serve_args(run)
    run.set_defaults(func=cmd_run)

    worker = commands.add_parser(
        "worker", help="analyse a share of the cameras, shared with other workers through database leases")
    worker.add_argument("--site", type=Path, required=True, help="the site file (the same for every worker)")
    worker.add_argument("--worker-id", type=_worker_id, help="unique name of this worker (default: HOST-PID-XXXX)")
    worker.add_argument("--data-dir", type=Path,
                        help="embedded database location, for workers on one machine; "
                             "ignored when HALLWATCH_DATABASE_URL is set")
    worker.add_argument("--heartbeat-s", type=float, default=HEARTBEAT_S,
                        help="seconds between lease renewals (default: %(default)s)")
    worker.add_argument("--lease-ttl-s", type=float, default=LEASE_TTL_S,
                        help="seconds an unrenewed lease lasts; a dead worker's cameras move after at most "
                             "TTL + one heartbeat (default: %(default)s)")
    worker.set_defaults(func=cmd_worker)

    simulate = commands.add_parser("simulate", help="serve simulated hall cameras over RTSP")
    simulate.add_argument("--site", type=Path, required=True)
    simulate.add_argument("--truth-dir", type=Path, help="where ground-truth files go (default: a temp dir)")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--story", type=Path, help="a story file scripting chosen cameras (see tools/simulator)")
    simulate.set_defaults(func=cmd_simulate)

    analyze = commands.add_parser("analyze", help="analyse an image, video file or RTSP URL as one camera")
    analyze.add_argument("--site", type=Path, required=True)
    analyze.add_argument("--camera", required=True, help="CAMERA or HALL/CAMERA whose zones apply")
    analyze.add_argument("source", help="image file, video file or rtsp:// URL")
    analyze.add_argument("--json", action="store_true", help="one JSON object per analysed frame")
    analyze.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: until the end)")
    analyze.set_defaults(func=cmd_analyze)

    config = commands.add_parser("config", help="site file tools")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="CONFIG_COMMAND")
    check = config_commands.add_parser("check", help="validate a site file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=cmd_config_check)

    from hallwatch.commands import register_all

    register_all(commands)
    return parser


def _add_serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", type=Path,
                        help="embedded database location (default: the user data dir); "
                             "ignored when HALLWATCH_DATABASE_URL is set")


def _worker_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", text):
        raise argparse.ArgumentTypeError("use 1-100 letters, digits and . _ : -")
    return text


def cmd_config_check(args: argparse.Namespace) -> int:
    site = load_site(args.file)
    cameras = site.cameras()
    zones = sum(len(c.zones) for _, c in cameras)
    print(f"{args.file}: ok: {len(site.cities)} cities, {len(site.halls)} halls, "
          f"{sum(len(h.windows) for h in site.halls)} windows, {len(cameras)} cameras, {zones} zones")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from hallwatch.service import READY_LINE, die_with_parent
    from tools.simulator import run_simulator

    die_with_parent()
    site = load_site(args.site)
    truth_dir = args.truth_dir or Path(tempfile.mkdtemp(prefix="hallwatch-truth-"))
    truth_dir.mkdir(parents=True, exist_ok=True)
    log.info("ground truth in %s", truth_dir)

    def ready() -> None:
        print(READY_LINE, flush=True)

    from tools.simulator.script import load_story

    story = load_story(args.story) if args.story is not None else None
    run_simulator(site, truth_dir=truth_dir, seed=args.seed, ready=ready, story=story)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from hallwatch.service import run_service

    run_service(load_site(args.site), host=args.host, port=args.port, data_dir=args.data_dir,
                analyse=not args.web_only, site_path=args.site)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from hallwatch.service import run_worker

    try:
        timings = LeaseTimings(heartbeat_s=args.heartbeat_s, ttl_s=args.lease_ttl_s)
    except ValueError as exc:
        raise HallwatchError(str(exc)) from None
    run_worker(load_site(args.site), worker_id=args.worker_id or default_worker_id(), data_dir=args.data_dir,
               timings=timings, site_path=args.site)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from hallwatch.demo import demo_login, demo_site_file, history_in_background
    from hallwatch.service import EXAMPLE_SITE, run_service, simulator_process

    site_path = args.site or demo_site_file(args.data_dir, EXAMPLE_SITE)
    site = load_site(site_path)
    name, secret = demo_login(site, args.data_dir)
    if secret is not None:
        # The password stays in the file, not in the log: logs are shipped and kept.
        log.info("log in as %r with the password in %s", name, secret)
    truth_dir = Path(tempfile.mkdtemp(prefix="hallwatch-truth-"))
    with (simulator_process(site_path, truth_dir, args.seed),
          history_in_background(site, args.data_dir, days=args.days, seed=args.seed, empty=args.empty)):
        log.info("simulated cameras are up; open http://%s:%d", args.host, args.port)
        run_service(site, host=args.host, port=args.port, data_dir=args.data_dir, site_path=site_path)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from analytics.camera import CameraAnalyzer
    from ingest.sources import iter_frames
    from models import load_detector
    from pipeline.loop import camera_detector
    from pipeline.measure import analyse_frame

    site: SiteConfig = load_site(args.site)
    hall, camera = site.find_camera(args.camera)
    detector = camera_detector(load_detector(site.detector), camera, site.detector)  # as the pipeline does
    analyzer = CameraAnalyzer.from_site(site, camera)
    kinds = {z.id: z.kind for z in camera.zones}
    stop = threading.Event()
    for count, frame in enumerate(iter_frames(args.source, analysis_fps=camera.analysis_fps,
                                              ingest=site.ingest, stop=stop), start=1):
        result = analyse_frame(detector, analyzer, frame)
        desks = {w: r.state.value for w, r in result.desks.items()}
        queues = {z: n for z, n in result.zones.items() if kinds[z] is ZoneKind.queue}
        self_service = {z: n for z, n in result.zones.items() if kinds[z] is ZoneKind.self_service}
        if args.json:
            print(json.dumps({"ts": round(result.ts, 3), "hall": hall.id, "camera": camera.id,
                              "people": result.people, "queues": queues, "self_service": self_service,
                              "desks": desks}), flush=True)
        else:
            states = " ".join(f"{w}={s}" for w, s in desks.items())
            counts = " ".join(f"{z}={n}" for z, n in {**queues, **self_service}.items())
            print(f"{result.ts:.3f} people={result.people} {states} {counts}", flush=True)
        if args.max_frames and count >= args.max_frames:
            stop.set()
            break
    return 0


def _stop_on_sigterm() -> object:
    """SIGTERM (what service managers and `docker stop` send) stops hallwatch as Ctrl-C does: the
    main thread unwinds, so the web app, the pipeline, the camera simulator and the embedded
    PostgreSQL are all stopped on the way out. (Without this, uvicorn re-raises the SIGTERM it
    caught under the default handler, which ends the process at once and orphans the children.)
    Further SIGTERMs during that shutdown are ignored; a clean stop exits 0, as service managers
    expect of a service they asked to stop."""

    def terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log.info("SIGTERM: stopping")
        raise SystemExit(0)

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, terminate)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    previous = _stop_on_sigterm()
    try:
        return int(args.func(args))
    except HallwatchError as exc:
        print(f"hallwatch: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]


if __name__ == "__main__":
    raise SystemExit(main())
