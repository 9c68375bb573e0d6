"""Photos and posters: facts, findings and a clean copy for reviewers. Pure apart from reading and writing files.

A submitted image is opened header-first so that a decompression bomb (a few
hundred KB that decode into gigabytes) is refused before any pixel is decoded;
only then is it verified and decoded in full to catch truncated uploads. The
copy reviewers see is upright, at most 2048 px on its longer side and carries
no metadata, so a phone photo's GPS position never reaches them.
"""
from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from common.campaign.media_rules import finding

# 1920x1080 is 2 Mpx and a 200-Mpx phone sensor is binned to ~50 Mpx, so 80 Mpx leaves room for
# every genuine photo or poster while a 30000x30000 bomb (900 Mpx, ~3.6 GB decoded) is refused.
MAX_PIXELS = 80_000_000

# Pillow warns above MAX_IMAGE_PIXELS and raises above twice that, for every image opened in this
# process (also by the review copy and the video contact sheets), so the cap holds even for a
# caller that skips inspect_image.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
GPS_LATITUDE, GPS_LONGITUDE = 2, 4

# Signatures of formats that are images even when Pillow cannot open them (damaged or unsupported).
_MAGIC = [
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
]
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}

MSG_NOT_IMAGE = "无法识别的图片文件：内容不是图片。请上传 JPG 或 PNG 图片。"
MSG_HEIF = "HEIC/HEIF（苹果手机默认照片格式）或 AVIF 图片暂不支持。请在手机上设置为“兼容性最佳”或导出为 JPG 后上传。"
MSG_CORRUPT = "图片文件不完整或已损坏，请重新导出后上传。"
MSG_GPS = "照片含有拍摄地点（GPS）信息；评审看到的副本已去除，原文件仍保留该信息，如不希望保留请去除后重新上传。"


@dataclass
class ImageReport:
    facts: dict
    findings: list[dict] = field(default_factory=list)


def _sniff(path: str) -> str | None:
    with open(path, "rb") as f:
        head = f.read(32)
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "heif"
    return None


def _format_name(pillow_format: str | None) -> str | None:
    if pillow_format is None:
        return None
    fmt = pillow_format.lower()
    # Phones save portrait/burst photos as MPO: a plain JPEG with extra frames that every viewer shows as JPEG.
    return "jpeg" if fmt == "mpo" else fmt


def _bomb_size(path: str) -> tuple[str | None, tuple[int, int] | None]:
    """Format and size of an image Image.open refused as a bomb, read from its header only.

    Image.open checks the size right after the format plugin has parsed the header; calling the
    plugin ourselves gives the same header facts without the check and without decoding anything,
    so the submitter is told the real dimensions.
    """
    with open(path, "rb") as f:
        prefix = f.read(16)
        for name in Image.ID:
            factory, accept = Image.OPEN[name]
            try:
                result = accept(prefix) if accept else True
                if not result or isinstance(result, str):   # a str is Pillow's "looks like, but ..." note
                    continue
                f.seek(0)
                im = factory(f, path)
                return _format_name(im.format), im.size
            except Exception:  # noqa: BLE001, S112 - a plugin that cannot parse the header is simply not this format
                continue
    return None, None


def _has_gps(exif: Image.Exif) -> bool:
    try:
        gps = exif.get_ifd(GPS_IFD)
    except Exception:  # noqa: BLE001 - malformed IFDs fail in many ways; see below
        return False
    return any(gps.get(tag) not in (None, b"", (), "") for tag in (GPS_LATITUDE, GPS_LONGITUDE))


def _exif_facts(im: Image.Image, fmt: str | None) -> tuple[bool, bool]:
    try:
        exif = im.getexif()
    except Exception:  # noqa: BLE001 - malformed EXIF fails in many ways
        # Damaged EXIF says nothing about the picture; it only means we cannot see a position.
        return bool(im.info.get("exif")), False
    if fmt == "tiff":
        # A TIFF's own tags live in the same IFD as EXIF would; only the EXIF/GPS sub-IFDs count.
        has_exif = EXIF_IFD in exif or GPS_IFD in exif
    else:
        has_exif = len(exif) > 0 or bool(im.info.get("exif"))
    return has_exif, _has_gps(exif)


def _count(n: int) -> str:
    """A pixel count as people say it: 8000 万, 16 亿."""
    if n >= 100_000_000:
        return f"{n / 100_000_000:.1f}".rstrip("0").rstrip(".") + " 亿"
    return f"{n / 10_000:.0f} 万"


def _too_big(width, height, pixels, fmt, size_bytes) -> ImageReport:
    dims = f"{width}×{height} 像素，" if width and height else ""
    about = f"约 {_count(pixels)}像素" if pixels else "像素数未知"
    facts = {"format": fmt, "width": width, "height": height, "pixels": pixels, "size_bytes": size_bytes,
             "has_exif": None, "has_gps": None, "mode": None}
    return ImageReport(facts, [finding(
        "image_too_many_pixels", "error",
        f"图片尺寸过大（{dims}{about}），上限为 {_count(MAX_PIXELS)}像素。"
        "请缩小图片尺寸后重新导出上传。", MAX_PIXELS, pixels)])


def inspect_image(path: str) -> ImageReport:
    """Facts and findings of one image; ValueError when the file is not an image at all."""
    size_bytes = os.path.getsize(path)
    sniffed = _sniff(path)
    try:
        with warnings.catch_warnings():
            # Between MAX_PIXELS and twice that Pillow only warns; make it refuse as well.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        fmt, size = _bomb_size(path)
        if size:
            return _too_big(size[0], size[1], size[0] * size[1], fmt or sniffed, size_bytes)
        m = re.search(r"\((\d+) pixels\)", str(exc))
        return _too_big(None, None, int(m.group(1)) if m else None, sniffed, size_bytes)
    except UnidentifiedImageError:
        if sniffed == "heif":
            raise ValueError(MSG_HEIF) from None
        if sniffed is None:
            raise ValueError(MSG_NOT_IMAGE) from None
        return _corrupt({"format": sniffed, "size_bytes": size_bytes}, "header unreadable")
    except Exception as exc:  # noqa: BLE001 - plugins raise OSError, SyntaxError, struct.error, ValueError...
        # The plugin recognised the format but choked on the header: an image, damaged.
        if sniffed is None:
            raise ValueError(MSG_NOT_IMAGE) from None
        return _corrupt({"format": sniffed, "size_bytes": size_bytes}, str(exc))

    with im:
        fmt = _format_name(im.format)
        width, height = im.size
        pixels = width * height
        if pixels > MAX_PIXELS:
            return _too_big(width, height, pixels, fmt, size_bytes)
        facts = {"format": fmt, "width": width, "height": height, "pixels": pixels, "size_bytes": size_bytes,
                 "has_exif": None, "has_gps": None, "mode": im.mode}
        try:
            # Must come first: verify() works only on a freshly opened file, and reading EXIF
            # may already decode (a PNG's eXIf chunk can follow the pixel data).
            im.verify()
        except Exception as exc:  # noqa: BLE001 - any failure here is damaged data, reported as such
            return _corrupt(facts, str(exc))
    try:
        # verify() leaves the image unusable and does not decode pixel data (a JPEG cut short
        # passes it), so a fresh open decodes everything.
        with Image.open(path) as im:
            has_exif, has_gps = _exif_facts(im, fmt)
            facts.update(has_exif=has_exif, has_gps=has_gps)
            im.load()
    except Exception as exc:  # noqa: BLE001 - any failure here is damaged data, reported as such
        return _corrupt(facts, str(exc))

    findings = []
    if has_gps:
        findings.append(finding("image_gps", "warning", MSG_GPS, False, True))
    return ImageReport(facts, findings)


def _corrupt(facts: dict, reason: str) -> ImageReport:
    full = {"format": None, "width": None, "height": None, "pixels": None, "size_bytes": None,
            "has_exif": None, "has_gps": None, "mode": None}
    full.update(facts)
    return ImageReport(full, [finding("image_corrupt", "error", MSG_CORRUPT, "complete", reason[:200] or "corrupt")])


def _has_alpha(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        alpha = im.convert("RGBA").getchannel("A")
        # Screenshots are often RGBA yet fully opaque; those become a (much smaller) JPEG.
        return alpha.getextrema()[0] < 255
    return False


def _to_srgb(im: Image.Image) -> Image.Image:
    """Colours converted from an embedded profile (Display P3 on iPhones, Adobe RGB) to sRGB.

    The review copy carries no ICC profile, so without this a wide-gamut photo looks dull.
    """
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return im
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return im


def make_review_copy(src_path: str, dst_path: str, max_side: int = 2048) -> dict:
    """Write an upright, downscaled, metadata-free JPEG (or PNG when transparent) to dst_path.

    The file is written to dst_path whatever its extension; the returned "format" says which it is.
    """
    too_big = ValueError(f"图片像素数超过上限（{_count(MAX_PIXELS)}像素），不生成评审副本。")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(src_path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_big from None
    with im:
        if im.size[0] * im.size[1] > MAX_PIXELS:
            raise too_big
        # A JPEG can be decoded at 1/2, 1/4 or 1/8 scale directly: a 50-Mpx photo then needs
        # a fraction of the memory and time. draft() never goes below the requested size.
        im.draft(None, (max_side, max_side))
        # Phones store a portrait photo sideways plus an Orientation tag; reviewers must see it upright.
        img = ImageOps.exif_transpose(im)
        icc = im.info.get("icc_profile")
    if icc:
        img.info["icc_profile"] = icc
    img = _to_srgb(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L"):
        # 16-bit greyscale (scans, some PNG exports): Pillow's direct conversion to 8 bits clips
        # everything above 255 to white, so scale the range down first.
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    alpha = _has_alpha(img)
    if alpha:
        img = img.convert("RGBA")
    elif img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # Pillow re-emits EXIF, XMP, ICC and comments it finds in .info; an empty info writes none of them.
    img.info = {}
    fmt = "png" if alpha else "jpeg"
    if alpha:
        img.save(dst_path, "PNG", optimize=True)
    else:
        img.save(dst_path, "JPEG", quality=85, optimize=True)
    return {"width": img.width, "height": img.height, "format": fmt}


# PNG chunks that hold words or times rather than pixels: text, compressed text, international text,
# EXIF, modification time.
_PNG_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}


def strip_metadata(data: bytes) -> bytes:
    """A JPEG or PNG without its metadata, pixels untouched (no re-encoding); other data as it is.

    For pictures inside documents: EXIF (camera owner, Artist, GPS), XMP (creator), comments and
    PNG text chunks go; JFIF, Adobe's colour transform and every pixel stay.
    """
    if data.startswith(b"\xff\xd8"):
        return _strip_jpeg(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _strip_png(data)
    return data


def _strip_jpeg(data: bytes) -> bytes:
    out, pos = [data[:2]], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or 0xD0 <= marker <= 0xD9:  # start of scan (or a stray marker): the rest is image data
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        segment = data[pos:pos + 2 + length]
        keep = not (0xE1 <= marker <= 0xEF or marker == 0xFE) or (marker == 0xEE and segment[4:9] == b"Adobe")
        if keep:
            out.append(segment)
        pos += 2 + length
    out.append(data[pos:])
    return b"".join(out)


def _strip_png(data: bytes) -> bytes:
    out, pos = [data[:8]], 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        chunk = data[pos:pos + 12 + length]
        if kind not in _PNG_METADATA:
            out.append(chunk)
        pos += 12 + length
        if kind == b"IEND":
            break
    return b"".join(out)
