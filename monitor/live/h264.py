"""Just enough Annex B parsing to forward a camera's H.264 untouched: where the NAL units are,
whether an access unit starts a GOP (H.264 and H.265), and whether an H.264 profile is one browsers
decode. H.265 is never forwarded (browsers here do not decode it over WebRTC, and aiortc has no
H.265 packetizer): it is only decoded, from a keyframe on."""

from __future__ import annotations

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
# profile_idc that WebRTC browsers decode: Baseline/Constrained Baseline, Main, High (8-bit 4:2:0).
BROWSER_PROFILES = {66: "baseline", 77: "main", 100: "high"}
HEVC_IRAP = range(16, 24)  # H.265 random access pictures (BLA, IDR, CRA): a decoder may start there


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B buffer, without start codes."""
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    units = []
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        unit = data[start:end]
        if n + 1 < len(starts):
            unit = unit.rstrip(b"\x00")  # trailing zero of a 4-byte start code, or zero padding
        if unit:
            units.append(unit)
    return units


def nal_types(data: bytes) -> list[int]:
    return [unit[0] & 0x1F for unit in nal_units(data)]


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an access unit of `codec` ("h264" or "hevc") lets a decoder start."""
    if codec == "hevc":
        return any((unit[0] >> 1) & 0x3F in HEVC_IRAP for unit in nal_units(data))
    return NAL_IDR in nal_types(data)


def is_annexb(data: bytes) -> bool:
    return data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))


def sps_profile(data: bytes) -> int | None:
    """profile_idc of the first SPS in an Annex B buffer (the byte after the NAL header)."""
    for unit in nal_units(data):
        if unit[0] & 0x1F == NAL_SPS and len(unit) > 1:
            return unit[1]
    return None


def browser_decodable(profile_idc: int | None) -> bool:
    return profile_idc in BROWSER_PROFILES
