"""The human channels of supervision over the history: complaints, inspections with findings and snapshots,
acknowledged alerts and cases, each step taken by the user whose job it is."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import cv2
import numpy as np
import psycopg

from core.config import HallConfig, SiteConfig, ZoneKind
from models import Detector
from storage.records.alerts import AckCreate, AlertFilter, acknowledge, list_alerts
from storage.records.cases import CaseCreate, CaseStatus, CaseTransition, SourceKind, create_case
from storage.records.cases import change_status as change_case
from storage.records.complaints import Category, Channel, ComplaintCreate, Transition, create_complaint
from storage.records.complaints import ComplaintStatus as S
from storage.records.complaints import change_status as change_complaint
from storage.records.evidence import check_photo, store_evidence
from storage.records.inspections import (
    ChecklistItemIn,
    FindingCategory,
    FindingCreate,
    InspectionCreate,
    InspectionKind,
    InspectionStatus,
    Severity,
    TemplateCreate,
    VisitRecord,
    add_finding,
    create_inspection,
    create_template,
    hall_metrics_at,
    record_visit,
)
from storage.records.inspections import set_status as set_inspection_status
from tools.demo_history.cast import NAMES, Cast, rng_for
from tools.demo_history.plan import HallPlan
from tools.simulator.scene import SceneRenderer
from tools.simulator.script import CameraTruth


def snapshot_jpeg(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise ValueError("cannot encode the snapshot")
    return bytes(buffer.tobytes())


SUMMARIES = {  # what citizens write, by category
    Category.attitude: "窗口工作人员态度生硬，不愿解释材料要求",
    Category.delay: "排队等候超过一小时，叫号很慢",
    Category.error: "护照信息录入错误，需要重新办理",
    Category.discipline: "办理期间工作人员离岗玩手机",
    Category.environment: "大厅空调温度过低，座椅不够",
    Category.other: "预约电话一直无人接听",
}
FINDINGS = (
    (FindingCategory.error, Severity.high, "证件照片审核不符合规范即予受理"),
    (FindingCategory.absence, Severity.medium, "办公时间窗口无人，群众等候"),
    (FindingCategory.attitude, Severity.medium, "对群众咨询答复不耐烦"),
    (FindingCategory.environment, Severity.low, "便民服务台资料摆放杂乱"),
    (FindingCategory.process, Severity.medium, "未执行一次性告知制度"),
    (FindingCategory.discipline, Severity.high, "工作时间着装不规范"),
)
CHECKLIST = ("着装规范，佩戴工牌", "在岗在位，无脱岗", "一次性告知办理要求", "文明用语，耐心解答", "环境整洁，标识清楚")
# Per hall: (kind, covert, what becomes of it); the days are spread over the history.
INSPECTIONS = (
    (InspectionKind.spot_check, True, "published"), (InspectionKind.secret_shopper, True, "carried_out"),
    (InspectionKind.secret_shopper, True, "planned"), (InspectionKind.cross_inspection, False, "published"),
    (InspectionKind.social_supervisor, False, "carried_out"), (InspectionKind.spot_check, False, "cancelled"),
)
COMPLAINT_STATES = (S.received, S.assigned, S.in_progress, S.resolved, S.closed, S.rejected)
ACK_NOTES = {  # what the centre writes when it acknowledges an alert, by kind
    "unstaffed_while_waiting": ("已电话联系大厅值班领导", "已通知窗口负责人到岗"),
    "queue_over_limit": ("已通知大厅增开窗口", "已提醒引导员分流群众"),
    "wait_over_sla": ("已通知大厅增开窗口", "已核实，群众已办结"),
    "camera_offline": ("已报修，摄像机已恢复", "网络故障，已恢复，继续关注"),
    "camera_obstructed": ("已通知大厅清除遮挡", "已核实，遮挡已排除"),
    "camera_moved": ("已通知大厅恢复摄像机角度", "已核实，角度已复位"),
}
CASE_STATES = ("closed", "verified", "rectified", "open", "sent_back")


class Records:
    """The human channels of supervision over the history, each step taken by the user whose job it is."""

    def __init__(self, conn: psycopg.Connection, site: SiteConfig, cast: Cast, plans: dict[str, HallPlan], *,
                 start: float, end: datetime, seed: int, detector: Detector) -> None:
        self.conn, self.site, self.cast, self.plans, self.end = conn, site, cast, plans, end
        self.seed, self.detector = seed, detector
        self.rng = rng_for(seed, "records")
        self.start = start
        self.renderers: dict[tuple[str, str], SceneRenderer] = {}
        self.complaints = self.inspections = self.cases = self.evidence = 0
        self.sources: list[tuple[float, SourceKind, str, str, bool]] = []  # (when, kind, ref, hall, hidden from it)

    def seed_all(self) -> None:
        self.seed_complaints()
        self.seed_inspections()
        self.seed_alerts()
        self.seed_cases()

    def _when(self, lo_days: float, hi_days: float, *, working: bool = False) -> datetime:
        """A moment of opening hours between `hi_days` and `lo_days` before the end, inside the history; on a working
        day if `working` (and the history holds one before it)."""
        tz = self.site.scorecards.tz
        ago = min(float(self.rng.uniform(lo_days, hi_days)), (self.end.timestamp() - self.start) / 86400 - 0.5)
        day = (self.end - timedelta(days=max(ago, 0.0))).astimezone(tz).date()
        first = datetime.fromtimestamp(self.start, tz).date()
        while working and day.weekday() >= 5 and day - timedelta(days=1) >= first:
            day -= timedelta(days=1)
        moment = datetime.combine(day, time(9), tz) + timedelta(minutes=float(self.rng.uniform(0, 480)))
        return min(moment, self.end - timedelta(minutes=30)).astimezone(UTC)

    def _ahead(self, lo_days: float, hi_days: float) -> datetime:
        """A moment of opening hours on a working day between `lo_days` and `hi_days` after the end."""
        tz = self.site.scorecards.tz
        day = (self.end + timedelta(days=float(self.rng.uniform(lo_days, hi_days)))).astimezone(tz).date()
        day += timedelta(days=(7 - day.weekday()) % 7 if day.weekday() >= 5 else 0)
        return (datetime.combine(day, time(9), tz) + timedelta(minutes=float(self.rng.uniform(0, 420)))).astimezone(UTC)

    def seed_complaints(self) -> None:
        halls = self.site.halls
        weights = np.array([1.0 + p.quality for p in self.plans.values()])
        count = max(len(COMPLAINT_STATES) + 2, round(len(self.plans[halls[0].id].demand) * 1.2))
        for n in range(count):
            hall = halls[int(self.rng.choice(len(halls), p=weights / weights.sum()))]
            target = COMPLAINT_STATES[n] if n < len(COMPLAINT_STATES) else None
            ages: dict[S | None, tuple[float, float]] = {S.received: (0.1, 0.8), S.assigned: (1, 2),
                                                         S.in_progress: (1.5, 4)}
            age = ages.get(target, (0.2, 30))
            received = self._when(*age)
            days = (self.end - received).total_seconds() / 86400
            if target is None:
                target = (S.received if days < 1 else S.assigned if days < 2 else S.in_progress if days < 4
                          else S.rejected if self.rng.random() < 0.1 else S.resolved if days < 8 else S.closed)
            window = hall.windows[int(self.rng.integers(len(hall.windows)))].id if self.rng.random() < 0.8 else None
            category = list(Category)[int(self.rng.integers(len(Category)))]
            manager = self.cast.hall_manager[hall.id]
            complaint = create_complaint(self.conn, user=self.cast.complaints, config=self.site.records,
                                         data=ComplaintCreate(
                hall_id=hall.id, window_id=window, officer_badge=self.plans[hall.id].badges.get(window or ""),
                responsible_officer=manager.name, channel=list(Channel)[int(self.rng.integers(len(Channel)))],
                category=category, summary=SUMMARIES[category],
                contact_name=NAMES[int(self.rng.integers(len(NAMES)))][:1] + "先生",
                contact_phone=f"13{int(self.rng.integers(100_000_000, 999_999_999))}", received_at=received,
                external_ref=f"demo-{self.seed}-{n + 1:04d}"))
            self.complaints += 1
            steps = {S.received: [], S.rejected: [S.rejected], S.assigned: [S.assigned],
                     S.in_progress: [S.assigned, S.in_progress], S.resolved: [S.assigned, S.in_progress, S.resolved],
                     S.closed: [S.assigned, S.in_progress, S.resolved, S.closed]}[target]
            upheld = bool(self.rng.random() < 0.3 + 0.2 * self.plans[hall.id].quality)
            for to in steps:
                who = manager if to in (S.in_progress, S.resolved) else self.cast.complaints
                change_complaint(self.conn, user=who, complaint_id=complaint, change=Transition(
                    to=to, assignee=manager.name if to is S.assigned else None,
                    note="请核实处理" if to is S.assigned else "",
                    resolution="已调查核实并向群众反馈" if to is S.resolved else None,
                    upheld=upheld if to is S.resolved else None,
                    reason="重复投诉，已合并处理" if to is S.rejected else None))
            if upheld and target in (S.resolved, S.closed):
                self.sources.append((received.timestamp(), SourceKind.complaint, str(complaint), hall.id, False))

    def seed_inspections(self) -> None:
        c, halls = self.cast, self.site.halls
        templates = {kind: create_template(self.conn, user=c.inspector, data=TemplateCreate(
            name=f"demo {kind.value}", kind=kind, items=[ChecklistItemIn(text=t, weight=w) for t, w in
                                                         zip(CHECKLIST, (1, 2, 2, 1.5, 1), strict=True)]))
            for kind in InspectionKind}
        for number, hall in enumerate(halls):
            quality = self.plans[hall.id].quality
            for kind, covert, fate in INSPECTIONS:
                if fate == "cancelled" and number:
                    continue
                future = fate in ("planned", "cancelled")
                at = self._ahead(2, 10) if future else self._when(1, 28, working=True)
                visitor = {InspectionKind.secret_shopper: "第三方暗访机构",
                           InspectionKind.social_supervisor: "社会监督员",
                           InspectionKind.cross_inspection: f"{halls[number - 1].name} 互检组",
                           }.get(kind, c.inspector.name)
                inspection = create_inspection(self.conn, user=c.inspector, data=InspectionCreate(
                    kind=kind, hall_id=hall.id, planned_at=at, inspector=visitor, covert=covert,
                    template_id=templates[kind], notes="演示数据",
                    from_hall_id=halls[number - 1].id if kind is InspectionKind.cross_inspection else None))
                self.inspections += 1
                if fate == "cancelled":
                    set_inspection_status(self.conn, user=c.inspector, inspection_id=inspection,
                                          to=InspectionStatus.cancelled)
                if future:
                    continue
                visit = at + timedelta(minutes=40)
                scores = {p: float(np.clip(self.rng.normal(0.95 - 0.12 * quality, 0.08), 0, 1))
                          for p in range(1, len(CHECKLIST) + 1)}
                record_visit(self.conn, user=c.inspector, inspection_id=inspection,
                             visit=VisitRecord(carried_out_at=visit, scores=scores))
                found = []
                for _ in range(int(self.rng.poisson(0.6 + 0.9 * quality)) + (kind is InspectionKind.spot_check)):
                    category, severity, text = FINDINGS[int(self.rng.integers(len(FINDINGS)))]
                    window = hall.windows[int(self.rng.integers(len(hall.windows)))].id
                    found.append(add_finding(self.conn, user=c.inspector, inspection_id=inspection, data=FindingCreate(
                        category=category, severity=severity, description=text, window_id=window)))
                self.snapshot(hall, inspection, visit, found[0] if found else None)
                if fate == "published":
                    set_inspection_status(self.conn, user=c.inspector, inspection_id=inspection,
                                          to=InspectionStatus.published)
                hidden = covert and fate != "published"
                self.sources += [(visit.timestamp(), SourceKind.finding, str(f), hall.id, hidden) for f in found[:2]]

    def snapshot(self, hall: HallConfig, inspection: int, at: datetime, finding: int | None) -> None:
        """Evidence: the hall's first camera as the samples say it looked at `at`, drawn by the simulator."""
        camera = hall.cameras[0]
        seen = hall_metrics_at(self.conn, hall_id=hall.id, at=at)
        renderer = self.renderers.get((hall.id, camera.id))
        if renderer is None:
            renderer = self.renderers[(hall.id, camera.id)] = SceneRenderer(camera, seed=self.seed)
        kinds = {z.id: z.kind for z in camera.zones}
        zones = {z["zone_id"]: min(int(z["people"]), renderer.capacity(z["zone_id"])) for z in seen["zones"]
                 if z["zone_id"] in kinds}
        truth = CameraTruth(
            desks={w["window_id"]: w["state"] == "present" for w in seen["windows"]
                   if any(z.window == w["window_id"] for z in camera.zones if z.kind is ZoneKind.desk)},
            queues={z: n for z, n in zones.items() if kinds[z] is ZoneKind.queue},
            self_service={z: n for z, n in zones.items() if kinds[z] is ZoneKind.self_service})
        photo = check_photo(snapshot_jpeg(renderer.render(truth)), max_bytes=self.site.records.evidence_max_bytes)
        store_evidence(self.conn, user=self.cast.inspector, inspection_id=inspection, photo=photo,
                       detector=self.detector, source="camera", taken_at=at, camera_id=camera.id, finding_id=finding)
        self.evidence += 1

    def seed_alerts(self) -> None:
        """The centre acknowledges the alerts of the history (not those of a live pipeline running beside it): all
        but a few of the older ones and half of the last day's. One unstaffed window per hall becomes a case."""
        rows: list[dict[str, Any]] = []
        while True:
            page, total = list_alerts(self.conn, user=self.cast.center, where=AlertFilter(until=self.end),
                                      limit=500, offset=len(rows))
            rows += page
            if not page or len(rows) >= total:
                break
        recent = self.end - timedelta(days=1)
        for n, row in enumerate(sorted(rows, key=lambda r: r["id"])):
            if n % 10 if row["started_at"] < recent else n % 2:
                acknowledge(self.conn, user=self.cast.center, alert_id=row["id"],
                            ack=AckCreate(note=ACK_NOTES.get(row["kind"], ACK_NOTES["unstaffed_while_waiting"])[n % 2]))
        for hall in self.site.halls:
            unstaffed = [r for r in rows if r["hall_id"] == hall.id and r["kind"] == "unstaffed_while_waiting"]
            if unstaffed:
                first = min(unstaffed, key=lambda r: r["id"])
                self.sources.append((first["started_at"].timestamp(), SourceKind.event, first["id"], hall.id, False))

    def seed_cases(self) -> None:
        """A case for each source, older ones further along: closed, verified, rectified, open, sent back."""
        c = self.cast
        for n, (when, kind, ref, hall_id, hidden) in enumerate(sorted(self.sources)):
            by = {SourceKind.event: c.center, SourceKind.complaint: c.complaints}.get(kind, c.inspector)
            city = next(h.city for h in self.site.halls if h.id == hall_id)
            owner = c.city_manager[city] if hidden else c.hall_manager[hall_id]  # the hall may not know of it yet
            case = create_case(self.conn, user=by, config=self.site.records, data=CaseCreate(
                source_kind=kind, source_ref=ref, owner=owner.name,
                due_at=datetime.fromtimestamp(when, UTC) + timedelta(days=self.site.records.case_due_days)))
            self.cases += 1
            fate = "open" if hidden else CASE_STATES[n % len(CASE_STATES)]
            steps = {"open": [], "rectified": ["rectified"], "sent_back": ["rectified", "open"],
                     "verified": ["rectified", "verified"], "closed": ["rectified", "verified", "closed"]}[fate]
            for to in steps:
                who = {"rectified": owner, "verified": c.inspector, "open": c.inspector}.get(to, c.city_manager[city])
                change_case(self.conn, user=who, case_id=case, change=CaseTransition(
                    to=CaseStatus(to), rectification="已约谈当事人，整改到位" if to == "rectified" else None,
                    verification="回看视频并现场复查，整改属实" if to == "verified" else None,
                    note="整改不到位，请重新处理" if to == "open" else ""))

