"""Unit tests for services.media.images: facts, findings and the reviewers' copy.

Every image is made here with Pillow (or patched bytes for the bomb), never
read from a committed binary.
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms

from services.media.images import MAX_PIXELS, inspect_image, make_review_copy

NANJING = {"lat": (32.0, 3.0, 36.0), "lon": (118.0, 47.0, 24.0)}


def gradient(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A picture with detail, so JPEG data is not trivially small and truncation hits pixel data."""
    img = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40)
    return Image.merge("RGB", (img, noise, img.transpose(Image.Transpose.FLIP_LEFT_RIGHT))).convert(mode)


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Huawei"
    exif[ExifTags.Base.Model] = "P40"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSVersionID] = b"\x02\x02\x00\x00"
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = NANJING["lat"]
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = NANJING["lon"]
    return exif


@pytest.fixture
def gps_jpeg(tmp_path) -> Path:
    path = tmp_path / "photo.jpg"
    gradient(1200, 800).save(path, "JPEG", quality=80, exif=gps_exif())
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def patched_png(path: Path, width: int, height: int) -> Path:
    """A real 8x8 PNG whose IHDR (with a correct CRC) claims width x height: a bomb's header."""
    buf = io.BytesIO()
    Image.new("1", (8, 8), 1).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[8:33] = png_chunk(b"IHDR", ihdr)
    path.write_bytes(bytes(data))
    return path


def no_metadata(path: Path) -> None:
    raw = path.read_bytes()
    assert b"Exif\x00\x00" not in raw and b"eXIf" not in raw
    assert b"http://ns.adobe.com/xap" not in raw
    with Image.open(path) as out:
        assert len(out.getexif()) == 0
        assert not out.getexif().get_ifd(0x8825)
        assert not {"exif", "xmp", "icc_profile", "comment", "XML:com.adobe.xmp"} & set(out.info)


# ---------------------------------------------------------------- inspect_image


def test_jpeg_with_gps(gps_jpeg):
    report = inspect_image(str(gps_jpeg))
    assert report.facts == {"format": "jpeg", "width": 1200, "height": 800, "pixels": 960_000,
                            "size_bytes": gps_jpeg.stat().st_size, "has_exif": True, "has_gps": True,
                            "mode": "RGB"}
    [f] = report.findings
    assert f["rule"] == "image_gps" and f["severity"] == "warning"
    assert f["message"] == ("照片含有拍摄地点（GPS）信息；评审看到的副本已去除，原文件仍保留该信息，"
                            "如不希望保留请去除后重新上传。")


def test_exif_without_gps_position(tmp_path):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSVersionID] = b"\x02\x02\x00\x00"   # no fix
    path = tmp_path / "nofix.jpg"
    gradient(64, 48).save(path, "JPEG", exif=exif)
    report = inspect_image(str(path))
    assert report.facts["has_exif"] is True and report.facts["has_gps"] is False
    assert report.findings == []


def test_png_facts(tmp_path):
    path = tmp_path / "poster.png"
    gradient(640, 480, "RGBA").save(path, "PNG")
    report = inspect_image(str(path))
    assert report.facts == {"format": "png", "width": 640, "height": 480, "pixels": 307_200,
                            "size_bytes": path.stat().st_size, "has_exif": False, "has_gps": False, "mode": "RGBA"}
    assert report.findings == []


def test_png_with_exif_gps_chunk(tmp_path):
    path = tmp_path / "gps.png"
    gradient(64, 64).save(path, "PNG", exif=gps_exif())
    report = inspect_image(str(path))
    assert report.facts["has_gps"] is True
    assert [f["rule"] for f in report.findings] == ["image_gps"]


@pytest.mark.parametrize("pillow_format, fact", [("WEBP", "webp"), ("GIF", "gif"), ("BMP", "bmp"),
                                                 ("TIFF", "tiff")])
def test_other_formats_are_named_by_content(tmp_path, pillow_format, fact):
    path = tmp_path / "picture.jpg"            # misleading name on purpose
    gradient(50, 40).save(path, pillow_format)
    report = inspect_image(str(path))
    assert report.facts["format"] == fact and report.facts["width"] == 50 and report.findings == []
    assert report.facts["has_exif"] is False


def test_bomb_header_is_refused_without_decoding(tmp_path):
    path = patched_png(tmp_path / "bomb.png", 30000, 30000)
    assert path.stat().st_size < 200                   # nothing to decode: the header alone decides
    report = inspect_image(str(path))
    assert report.facts["format"] == "png"
    assert (report.facts["width"], report.facts["height"], report.facts["pixels"]) == (30000, 30000, 900_000_000)
    [f] = report.findings
    assert f["rule"] == "image_too_many_pixels" and f["severity"] == "error"
    assert f["expected"] == MAX_PIXELS and f["actual"] == 900_000_000
    assert "30000×30000 像素，约 9 亿像素" in f["message"] and "上限为 8000 万像素" in f["message"]


def test_just_above_the_cap_where_pillow_only_warns(tmp_path):
    # 10000 x 9000 = 90 Mpx: above MAX_PIXELS but below Pillow's hard error at twice the limit.
    path = patched_png(tmp_path / "big.png", 10000, 9000)
    report = inspect_image(str(path))
    assert [f["rule"] for f in report.findings] == ["image_too_many_pixels"]
    assert report.facts["pixels"] == 90_000_000


def test_genuine_compressed_bomb(tmp_path):
    # A real, complete mode-"1" PNG of 12000 x 12000 (144 Mpx) that is a few KB on disk.
    path = tmp_path / "real_bomb.png"
    Image.new("1", (12000, 12000), 1).save(path, "PNG")
    assert path.stat().st_size < 100_000
    report = inspect_image(str(path))
    assert [f["rule"] for f in report.findings] == ["image_too_many_pixels"]


def test_module_sets_pillow_limit():
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS


def test_truncated_jpeg_is_corrupt(tmp_path, gps_jpeg):
    path = tmp_path / "cut.jpg"
    data = gps_jpeg.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    report = inspect_image(str(path))
    assert report.facts["format"] == "jpeg" and report.facts["width"] == 1200
    [f] = report.findings
    assert f["rule"] == "image_corrupt" and f["severity"] == "error"
    assert "图片文件不完整或已损坏，请重新导出后上传" in f["message"]


def test_png_with_bad_checksum_is_corrupt(tmp_path):
    path = tmp_path / "bad.png"
    gradient(100, 100).save(path, "PNG")
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF                               # flip bits inside the pixel data
    path.write_bytes(bytes(data))
    assert [f["rule"] for f in inspect_image(str(path)).findings] == ["image_corrupt"]


def test_image_header_only_is_corrupt_not_refused(tmp_path):
    path = tmp_path / "stub.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    report = inspect_image(str(path))
    assert report.facts["format"] == "png"
    assert [f["rule"] for f in report.findings] == ["image_corrupt"]


def test_text_file_is_refused(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_text("这不是图片。\n", encoding="utf-8")
    with pytest.raises(ValueError, match="无法识别的图片文件"):
        inspect_image(str(path))


def test_heic_is_refused_with_advice(tmp_path):
    path = tmp_path / "IMG_0001.jpg"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100)
    with pytest.raises(ValueError, match="HEIC"):
        inspect_image(str(path))


# ---------------------------------------------------------------- make_review_copy


def test_review_copy_has_no_exif_and_no_gps(tmp_path, gps_jpeg):
    dst = tmp_path / "review.jpg"
    assert make_review_copy(str(gps_jpeg), str(dst)) == {"width": 1200, "height": 800, "format": "jpeg"}
    no_metadata(dst)
    report = inspect_image(str(dst))
    assert report.facts["has_exif"] is False and report.facts["has_gps"] is False
    assert report.findings == []


def test_review_copy_drops_comment_xmp_and_icc(tmp_path):
    src = tmp_path / "meta.jpg"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    gradient(300, 200).save(src, "JPEG", exif=gps_exif(), comment=b"secret", icc_profile=srgb, xmp=xmp)
    with Image.open(src) as im:
        assert {"comment", "icc_profile", "xmp", "exif"} <= set(im.info)   # the source really has them
    dst = tmp_path / "review.jpg"
    make_review_copy(str(src), str(dst))
    no_metadata(dst)
    assert b"secret" not in dst.read_bytes()


def test_review_copy_applies_exif_orientation(tmp_path):
    # Stored sideways, 200 wide x 100 high: left half red, right half blue, Orientation 6
    # ("rotate 90° clockwise to display"), as a phone held upright saves it.
    stored = Image.new("RGB", (200, 100), "blue")
    stored.paste("red", (0, 0, 100, 100))
    src = tmp_path / "sideways.jpg"
    stored.save(src, "JPEG", quality=95, exif=gps_exif(orientation=6))
    dst = tmp_path / "review.jpg"
    assert make_review_copy(str(src), str(dst)) == {"width": 100, "height": 200, "format": "jpeg"}
    with Image.open(dst) as out:
        top, bottom = out.getpixel((50, 20)), out.getpixel((50, 180))
    assert top[0] > 200 and top[2] < 60          # red on top
    assert bottom[2] > 200 and bottom[0] < 60    # blue below
    no_metadata(dst)


def test_review_copy_is_downscaled_to_max_side(tmp_path):
    src = tmp_path / "wide.jpg"
    gradient(5000, 2500).save(src, "JPEG")
    dst = tmp_path / "review.jpg"
    assert make_review_copy(str(src), str(dst)) == {"width": 2048, "height": 1024, "format": "jpeg"}
    assert make_review_copy(str(src), str(dst), max_side=500) == {"width": 500, "height": 250, "format": "jpeg"}
    with Image.open(dst) as out:
        assert out.format == "JPEG" and out.size == (500, 250)


def test_review_copy_never_upscales(tmp_path):
    src = tmp_path / "small.png"
    gradient(300, 100).save(src, "PNG")
    dst = tmp_path / "review.jpg"
    assert make_review_copy(str(src), str(dst)) == {"width": 300, "height": 100, "format": "jpeg"}


def test_review_copy_keeps_real_transparency_as_png(tmp_path):
    img = Image.new("RGBA", (400, 300), (255, 0, 0, 255))
    img.paste((0, 0, 0, 0), (0, 0, 200, 300))                 # left half transparent
    src = tmp_path / "logo.png"
    img.save(src, "PNG", exif=gps_exif())
    dst = tmp_path / "review.png"
    assert make_review_copy(str(src), str(dst)) == {"width": 400, "height": 300, "format": "png"}
    with Image.open(dst) as out:
        assert out.format == "PNG" and out.mode == "RGBA"
        assert out.getpixel((10, 10))[3] == 0 and out.getpixel((390, 10)) == (255, 0, 0, 255)
    no_metadata(dst)


def test_review_copy_of_palette_gif_with_transparency_is_png(tmp_path):
    img = Image.new("P", (60, 60), 1)
    img.putpalette([0, 0, 0, 255, 255, 0] + [0] * 762)
    img.paste(0, (0, 0, 30, 60))
    src = tmp_path / "badge.gif"
    img.save(src, "GIF", transparency=0)
    assert make_review_copy(str(src), str(tmp_path / "r"))["format"] == "png"


def test_opaque_rgba_screenshot_becomes_jpeg(tmp_path):
    src = tmp_path / "screenshot.png"
    gradient(800, 600, "RGBA").save(src, "PNG")
    dst = tmp_path / "review.jpg"
    assert make_review_copy(str(src), str(dst))["format"] == "jpeg"
    with Image.open(dst) as out:
        assert out.format == "JPEG" and out.mode == "RGB"


def test_review_copy_of_cmyk_and_16_bit_grey(tmp_path):
    cmyk = tmp_path / "print.jpg"
    gradient(120, 80).convert("CMYK").save(cmyk, "JPEG")
    assert make_review_copy(str(cmyk), str(tmp_path / "a.jpg"))["format"] == "jpeg"
    with Image.open(tmp_path / "a.jpg") as out:
        assert out.mode == "RGB"

    grey16 = tmp_path / "scan.png"
    Image.linear_gradient("L").convert("I").point(lambda v: v * 256).resize((256, 64)).convert("I;16").save(grey16, "PNG")
    with Image.open(grey16) as im:
        assert im.mode.startswith("I")
    make_review_copy(str(grey16), str(tmp_path / "b.jpg"))
    with Image.open(tmp_path / "b.jpg") as out:
        low, high = out.convert("L").getextrema()
    assert low < 30 and high > 220                       # the range is kept, not clipped to white


@pytest.mark.parametrize("side", [9000, 30000])
def test_review_copy_refuses_a_bomb(tmp_path, recwarn, side):
    src = patched_png(tmp_path / "bomb.png", 10000, side)
    with pytest.raises(ValueError, match="不生成评审副本"):
        make_review_copy(str(src), str(tmp_path / "r.jpg"))
    assert not (tmp_path / "r.jpg").exists()
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
