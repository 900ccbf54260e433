"""Decoding one clip with PyAV (no system ffmpeg): frames at 1 fps and the mono waveform.

**Frames.** One frame per second, as ffmpeg's `fps=1` in the official scripts: the first decoded frame at
or after each whole second from the clip's first frame, at most `max_frames` of them (3 for CREMA-D,
10 for the 10 s datasets). They are squashed to a square (the official test transform squashes to
224 x 224 anyway) with area interpolation.
"""

from __future__ import annotations

import os

import numpy as np


def _frame_time(frame, index: int, rate: float) -> float:
    return float(frame.time) if frame.time is not None else index / rate


def decode_clip(
    video_path: str | os.PathLike,
    audio_path: str | os.PathLike | None,
    sample_rate: int,
    max_frames: int,
    frame_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames at 1 fps `(n, S, S, 3)` uint8 and the mono float32 waveform at `sample_rate`.

    Audio comes from `audio_path` when given (CREMA-D's separate .wav), else from the video file. One pass
    over the packets; video packets are no longer decoded once `max_frames` frames are kept.
    """
    import av
    from av.video.reformatter import Interpolation

    frames: list[np.ndarray] = []
    chunks: list[np.ndarray] = []
    resampler = av.AudioResampler(format="fltp", rate=sample_rate)

    def take_audio(frame) -> None:
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(len(out.layout.channels), -1).mean(axis=0))

    with av.open(str(video_path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        vstream = container.streams.video[0]
        vstream.thread_count = 1  # parallelism comes from worker processes
        rate = float(vstream.average_rate or 25)
        streams = [vstream]
        if audio_path is None:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            streams.append(container.streams.audio[0])
        t0, next_second, index = None, 0, 0
        for packet in container.demux(streams):
            if packet.stream.type == "audio":
                for frame in packet.decode():
                    take_audio(frame)
                continue
            if len(frames) >= max_frames:
                continue
            for frame in packet.decode():
                t = _frame_time(frame, index, rate)
                index += 1
                t0 = t if t0 is None else t0
                if len(frames) < max_frames and t - t0 >= next_second - 1e-6:
                    frames.append(
                        frame.to_ndarray(
                            format="rgb24",
                            width=frame_size,
                            height=frame_size,
                            interpolation=Interpolation.AREA,
                            threads=1,
                        )
                    )
                    next_second += 1
    if audio_path is not None:
        with av.open(str(audio_path)) as container:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            for frame in container.decode(container.streams.audio[0]):
                take_audio(frame)
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(len(out.layout.channels), -1).mean(axis=0))
    if not frames:
        raise ValueError("no video frames decoded")
    wave = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(wave) == 0:
        raise ValueError("no audio samples decoded")
    return np.stack(frames), wave
