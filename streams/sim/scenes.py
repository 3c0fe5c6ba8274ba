"""Synthetic camera pictures for the simulator: pure numpy (+ OpenCV drawing), deterministic per seed.

A scene is a textured background (road, walls, houses, trees, ...) drawn once from its seed, a few movers that
cross it and wrap around so a clip of ``n_frames`` loops seamlessly, and per-frame sensor noise. Each *variant*
is what one picture state looks like: normal, motion, frozen, black, dark, blurred, covered, moved.
Frames come out as I420 (``(h * 3 // 2, w)`` uint8), the layout PyAV's ``yuv420p`` frames take.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FPS, GOP = 640, 360, 10, 20
SCENES = ("street", "alley", "yard", "market", "river")
VARIANTS = ("normal", "motion", "frozen", "black", "dark", "blurred", "covered", "moved")
# Variants whose picture never changes: one GOP is enough and each loop repeats identical pictures.
STILL_VARIANTS = ("frozen", "black")


@dataclass(frozen=True)
class Mover:
    lane_y: int  # y of the mover's bottom edge
    kind: str  # person, motorbike, car
    size: int  # width in pixels
    laps: int  # whole crossings per clip (keeps the loop seamless)
    phase: float  # 0..1 start position along the period
    direction: int  # +1 left to right, -1 right to left
    colour: tuple[int, int, int]


def _rng(*parts: int | str) -> np.random.Generator:
    return np.random.default_rng([abs(hash_str(str(p))) for p in parts])


def hash_str(s: str) -> int:
    """Stable small hash (Python's str hash is salted per process)."""
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def _texture(rng: np.random.Generator, h: int, w: int, amp: float, cell: int = 1) -> np.ndarray:
    """Static random texture (float32, zero mean): fine grain plus blotches of ``cell`` pixels."""
    fine = rng.normal(0, amp, (h, w)).astype(np.float32)
    if cell > 1:
        small = rng.normal(0, amp, (max(1, h // cell), max(1, w // cell))).astype(np.float32)
        fine += cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return fine


def _rand_colour(rng: np.random.Generator, lo: int = 40, hi: int = 220) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(lo, hi, 3))  # type: ignore[return-value]


def _houses(img: np.ndarray, rng: np.random.Generator, y0: int, y1: int, n: int) -> None:
    x = int(rng.integers(-30, 0))
    while x < WIDTH:
        w = int(rng.integers(WIDTH // (n + 2), WIDTH // max(1, n - 1)))
        top = int(rng.integers(y0, y0 + (y1 - y0) // 2))
        wall = _rand_colour(rng, 90, 230)
        cv2.rectangle(img, (x, top), (x + w, y1), wall, -1)
        roof = np.array([[x - 8, top], [x + w // 2, top - int(rng.integers(15, 45))], [x + w + 8, top]], np.int32)
        cv2.fillPoly(img, [roof], _rand_colour(rng, 30, 160))
        for wx in range(x + 10, x + w - 20, 34):  # windows and a door
            cv2.rectangle(img, (wx, top + 12), (wx + 16, top + 30), (60, 50, 40), -1)
            cv2.rectangle(img, (wx, top + 12), (wx + 16, top + 30), (200, 200, 200), 1)
        cv2.rectangle(img, (x + w // 2 - 9, y1 - 34), (x + w // 2 + 9, y1), _rand_colour(rng, 20, 120), -1)
        x += w + int(rng.integers(2, 20))


def _trees(img: np.ndarray, rng: np.random.Generator, n: int, y_lo: int, y_hi: int) -> None:
    for _ in range(n):
        cx, cy = int(rng.integers(0, WIDTH)), int(rng.integers(y_lo, y_hi))
        r = int(rng.integers(18, 45))
        cv2.rectangle(img, (cx - 4, cy), (cx + 4, cy + r + 20), (30, 60, 90), -1)
        for _ in range(7):  # clumps of leaves
            ox, oy = rng.integers(-r, r, 2)
            cv2.circle(img, (cx + int(ox // 2), cy + int(oy // 2)), r // 2 + 4, _rand_colour(rng, 20, 140), -1)
            cv2.circle(img, (cx + int(ox // 2), cy + int(oy // 2)), r // 2 + 4, (20, 90, 30), -1)


def _bricks(img: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    for i, y in enumerate(range(y0, y1, 12)):
        cv2.line(img, (x0, y), (x1, y), (70, 70, 80), 1)
        for x in range(x0 + (12 if i % 2 else 0), x1, 24):
            cv2.line(img, (x, y), (x, min(y + 12, y1)), (70, 70, 80), 1)


def background(kind: str, seed: int) -> np.ndarray:
    """The scene's static, textured background (BGR uint8), deterministic from (kind, seed)."""
    rng = _rng("bg", kind, seed)
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    if kind == "street":
        img[:] = (200, 170, 140)  # sky
        _houses(img, rng, 60, 200, 5)
        cv2.rectangle(img, (0, 200), (WIDTH, 225), (150, 160, 165), -1)  # sidewalk
        cv2.rectangle(img, (0, 225), (WIDTH, HEIGHT), (80, 82, 85), -1)  # road
        for x in range(0, WIDTH, 60):
            cv2.rectangle(img, (x, 288), (x + 30, 292), (220, 220, 220), -1)
        _trees(img, rng, 3, 120, 180)
    elif kind == "alley":
        img[:] = (120, 125, 130)
        left = np.array([[0, 0], [230, 80], [230, 300], [0, HEIGHT]], np.int32)
        right = np.array([[WIDTH, 0], [410, 80], [410, 300], [WIDTH, HEIGHT]], np.int32)
        cv2.fillPoly(img, [left], _rand_colour(rng, 100, 200))
        cv2.fillPoly(img, [right], _rand_colour(rng, 100, 200))
        _bricks(img, 0, 0, 230, HEIGHT)
        _bricks(img, 410, 0, WIDTH, HEIGHT)
        cv2.fillPoly(img, [np.array([[0, HEIGHT], [230, 300], [410, 300], [WIDTH, HEIGHT]], np.int32)],
                     (95, 100, 105))
        for _ in range(4):  # doors, wires
            x = int(rng.integers(20, 200))
            cv2.rectangle(img, (x, 150), (x + 25, 250), _rand_colour(rng, 20, 120), -1)
            cv2.line(img, (0, int(rng.integers(10, 60))), (WIDTH, int(rng.integers(10, 60))), (30, 30, 30), 2)
    elif kind == "yard":
        img[:] = (190, 160, 130)
        _houses(img, rng, 40, 170, 2)
        cv2.rectangle(img, (0, 170), (WIDTH, HEIGHT), (60, 140, 80), -1)  # grass
        for x in range(0, WIDTH, 16):  # fence
            cv2.rectangle(img, (x, 150), (x + 10, 200), (170, 200, 215), -1)
        cv2.rectangle(img, (0, 160), (WIDTH, 166), (150, 180, 200), -1)
        _trees(img, rng, 4, 100, 260)
    elif kind == "market":
        img[:] = (140, 150, 160)
        cv2.rectangle(img, (0, 230), (WIDTH, HEIGHT), (110, 120, 125), -1)
        for i, x in enumerate(range(0, WIDTH, 130)):  # stalls with striped awnings
            a, b = _rand_colour(rng), _rand_colour(rng)
            for j, sx in enumerate(range(x, x + 120, 15)):
                cv2.rectangle(img, (sx, 90), (sx + 15, 130), a if (i + j) % 2 else b, -1)
            cv2.rectangle(img, (x + 5, 130), (x + 115, 225), (60, 80, 100), -1)
            for _ in range(12):  # goods
                gx, gy = int(rng.integers(x + 10, x + 105)), int(rng.integers(160, 215))
                cv2.circle(img, (gx, gy), int(rng.integers(4, 10)), _rand_colour(rng), -1)
    elif kind == "river":
        img[:] = (210, 180, 150)
        _trees(img, rng, 6, 40, 110)
        cv2.rectangle(img, (0, 120), (WIDTH, 200), (90, 130, 150), -1)  # bank
        cv2.rectangle(img, (0, 200), (WIDTH, 300), (110, 100, 60), -1)  # water
        for y in range(205, 300, 7):
            cv2.line(img, (0, y), (WIDTH, y + int(rng.integers(-3, 4))), (140, 130, 90), 1)
        cv2.rectangle(img, (0, 300), (WIDTH, HEIGHT), (100, 120, 130), -1)  # walkway
        cv2.rectangle(img, (260, 150), (380, 300), (150, 150, 155), -1)  # bridge pier
    else:
        raise ValueError(f"unknown scene {kind!r}")
    tex = _texture(rng, HEIGHT, WIDTH, 9.0, cell=6)
    return np.clip(img.astype(np.float32) + tex[..., None], 0, 255).astype(np.uint8)


def lanes(kind: str) -> list[int]:
    return {"street": [215, 260, 320], "alley": [310, 340], "yard": [240, 300],
            "market": [250, 300, 345], "river": [325, 350]}.get(kind, [300])


def movers(kind: str, seed: int, n: int, tag: str = "base") -> list[Mover]:
    rng = _rng("movers", kind, seed, tag)
    out = []
    for _ in range(n):
        k = str(rng.choice(["person", "person", "motorbike", "car"]))
        size = {"person": 14, "motorbike": 34, "car": 80}[k] + int(rng.integers(0, 8))
        laps = {"person": 1, "motorbike": 2, "car": 3}[k]
        out.append(Mover(int(rng.choice(lanes(kind))), k, size, laps, float(rng.random()),
                         1 if rng.random() < 0.5 else -1, _rand_colour(rng, 10, 245)))
    return out


def draw_movers(img: np.ndarray, ms: list[Mover], t: int, n_frames: int) -> None:
    for m in ms:
        period = WIDTH + 2 * m.size
        pos = (m.phase + m.laps * t / n_frames) % 1.0 * period
        x = int(pos - m.size) if m.direction > 0 else int(WIDTH + m.size - pos) - m.size
        y = m.lane_y
        if m.kind == "person":
            cv2.ellipse(img, (x + m.size // 2, y - 22), (m.size // 2, 22), 0, 0, 360, m.colour, -1)
            cv2.circle(img, (x + m.size // 2, y - 50), 7, (120, 150, 190), -1)
        elif m.kind == "motorbike":
            cv2.circle(img, (x + 6, y - 6), 6, (20, 20, 20), -1)
            cv2.circle(img, (x + m.size - 6, y - 6), 6, (20, 20, 20), -1)
            cv2.rectangle(img, (x + 4, y - 20), (x + m.size - 4, y - 8), m.colour, -1)
            cv2.ellipse(img, (x + m.size // 2, y - 32), (7, 14), 0, 0, 360, (40, 40, 60), -1)
        else:
            cv2.rectangle(img, (x, y - 30), (x + m.size, y - 8), m.colour, -1)
            cv2.rectangle(img, (x + 12, y - 44), (x + m.size - 14, y - 28), m.colour, -1)
            cv2.rectangle(img, (x + 16, y - 41), (x + m.size - 18, y - 31), (70, 60, 50), -1)
            cv2.circle(img, (x + 14, y - 8), 8, (15, 15, 15), -1)
            cv2.circle(img, (x + m.size - 14, y - 8), 8, (15, 15, 15), -1)


def moved_transform(seed: int) -> np.ndarray:
    """The affine map of a camera knocked aside: a substantial rotation plus a shift."""
    rng = _rng("moved", seed)
    angle = float(rng.choice([-1, 1]) * rng.uniform(12, 20))
    m = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), angle, 1.25)
    m[:, 2] += rng.uniform(-80, 80, 2)
    return m


class Picture:
    """Frames of one (scene, seed, night) for every variant; ``base(t)`` gives the clean BGR picture."""

    def __init__(self, kind: str, seed: int, night: bool, n_frames: int, footage: list[np.ndarray] | None = None):
        self.kind, self.seed, self.night, self.n_frames = kind, seed, night, n_frames
        self.footage = footage
        if footage is None:
            self.bg = background(kind, seed)
            self.movers = movers(kind, seed, 3)
            self.extra = movers(kind, seed, 9, "burst")
        self.noise_rng = _rng("noise", kind, seed, int(night))

    def base(self, t: int, variant: str = "normal") -> np.ndarray:
        if self.footage is not None:
            img = self.footage[t % len(self.footage)].copy()
            if variant == "motion":  # a burst of extra movers over the real picture
                draw_movers(img, movers("street", self.seed, 6, "burst"), t, self.n_frames)
            return img
        img = self.bg.copy()
        draw_movers(img, self.movers, t, self.n_frames)
        if variant == "motion":
            draw_movers(img, self.extra, t, self.n_frames)
        return img

    def frames(self, variant: str) -> Iterator[np.ndarray]:
        """I420 frames of ``variant``: ``n_frames`` of them, or one GOP for the still variants."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}")
        if variant in STILL_VARIANTS:
            still = (np.zeros((HEIGHT * 3 // 2, WIDTH), np.uint8) if variant == "black"
                     else self._finish(self.base(0), noise=2.0))
            if variant == "black":
                still[:HEIGHT] = 2
                still[HEIGHT:] = 128
            for _ in range(GOP):
                yield still
            return
        moved = moved_transform(self.seed) if variant == "moved" else None
        for t in range(self.n_frames):
            img = self.base(t, variant)
            if moved is not None:
                img = cv2.warpAffine(img, moved, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)
            if variant == "blurred":
                img = cv2.GaussianBlur(img, (0, 0), 7)
                yield self._finish(img, noise=1.0)
            elif variant == "covered":
                yield self._covered(t)
            elif variant == "dark":
                yield self._finish(img, noise=4.0, target_mean=18.0)
            else:
                yield self._finish(img, noise=6.0 if self.night else 2.5)

    def _finish(self, bgr: np.ndarray, noise: float, target_mean: float | None = None) -> np.ndarray:
        """BGR → I420, night look, brightness, per-frame sensor noise on luma."""
        yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
        y = yuv[:HEIGHT].astype(np.float32)
        if self.night:
            y = y * 0.35 + 8  # dark, IR-like grey
            yuv[HEIGHT:] = 128
        if target_mean is not None:
            y = y * (target_mean / max(1.0, float(y.mean())))
        y += self._noise(noise)
        yuv[:HEIGHT] = np.clip(y, 0, 255).astype(np.uint8)
        return yuv

    def _noise(self, sigma: float) -> np.ndarray:
        """Fine grain plus low-frequency blotches (which survive the encoder, so keyframes always differ)."""
        r = self.noise_rng
        fine = r.normal(0, sigma, (HEIGHT // 2, WIDTH // 2)).astype(np.float32)
        coarse = r.normal(0, sigma * 0.8, (HEIGHT // 20, WIDTH // 20)).astype(np.float32)
        return (cv2.resize(fine, (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)
                + cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR))

    def _covered(self, t: int) -> np.ndarray:
        """A hand, tape or bag over the lens: dull, near-uniform grey-brown, a soft gradient, faint noise."""
        rng = _rng("covered", self.seed)
        if not hasattr(self, "_cover"):
            base = np.empty((HEIGHT, WIDTH, 3), np.float32)
            base[:] = rng.uniform(55, 95, 3) * np.array([0.8, 0.9, 1.0])
            grad = np.linspace(-6, 6, WIDTH, dtype=np.float32)[None, :, None]
            self._cover = np.clip(base + grad, 0, 255).astype(np.uint8)
        return self._finish(self._cover, noise=1.0)


def load_footage(path: Path, n_frames: int) -> list[np.ndarray]:
    """Decode up to ``n_frames`` BGR frames of a real clip, scaled to 640x360 (loops if the clip is shorter)."""
    import av

    frames: list[np.ndarray] = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in c.decode(stream):
            img = frame.to_ndarray(format="bgr24")
            if img.shape[:2] != (HEIGHT, WIDTH):
                img = cv2.resize(img, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
            frames.append(img)
            if len(frames) >= n_frames:
                break
    if not frames:
        raise ValueError(f"no frames in {path.name}")
    return [frames[i % len(frames)] for i in range(n_frames)]


def footage_clips(footage_dir: Path) -> list[Path]:
    """The clips a 'footage' camera can loop: the 360p10 copies if any, else every video file, sorted."""
    clips = sorted(footage_dir.glob("*_360p10.mp4"))
    if not clips:
        clips = sorted(p for p in footage_dir.iterdir() if p.suffix.lower() in (".mp4", ".avi", ".mpg", ".mkv"))
    return clips
