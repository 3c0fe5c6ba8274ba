"""Picture size from an H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1), so resolution is known from
packets alone — also for cameras whose decode mode is ``off``."""

from __future__ import annotations

HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]  # IndexError on a truncated SPS: the caller returns None
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _unescape(nal: bytes) -> bytes:
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def h264_picture_size(sps_nal: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels after cropping, or None when the SPS cannot be read."""
    if not sps_nal or sps_nal[0] & 0x1F != 7:
        return None
    try:
        b = _Bits(_unescape(sps_nal[1:]))
        profile = b.u(8)
        b.u(16)  # constraint flags, level
        b.ue()  # seq_parameter_set_id
        chroma = 1
        if profile in HIGH_PROFILES:
            chroma = b.ue()
            if chroma == 3:
                b.u(1)
            b.ue()
            b.ue()
            b.u(1)
            if b.u(1):  # seq_scaling_matrix_present_flag
                for i in range(8 if chroma != 3 else 12):
                    if b.u(1):
                        last = nxt = 8
                        for _ in range(16 if i < 6 else 64):
                            if nxt:
                                nxt = (last + b.se() + 256) % 256
                            last = nxt or last
        b.ue()  # log2_max_frame_num_minus4
        poc = b.ue()
        if poc == 0:
            b.ue()
        elif poc == 1:
            b.u(1)
            b.se()
            b.se()
            for _ in range(b.ue()):
                b.se()
        b.ue()  # max_num_ref_frames
        b.u(1)
        w_mbs, h_units = b.ue() + 1, b.ue() + 1
        frame_mbs_only = b.u(1)
        if not frame_mbs_only:
            b.u(1)
        b.u(1)
        left = right = top = bottom = 0
        if b.u(1):
            left, right, top, bottom = b.ue(), b.ue(), b.ue(), b.ue()
    except (IndexError, ValueError):
        return None
    sub_w, sub_h = (1, 1) if chroma in (0, 3) else (2, 2 if chroma == 1 else 1)
    crop_x = 1 if chroma == 0 else sub_w
    crop_y = (2 - frame_mbs_only) * (1 if chroma == 0 else sub_h)
    width = w_mbs * 16 - crop_x * (left + right)
    height = (2 - frame_mbs_only) * h_units * 16 - crop_y * (top + bottom)
    return (width, height) if width > 0 and height > 0 else None
