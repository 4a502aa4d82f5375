# Zion's sanitiser (issue 17), run inside a throw-away container with no
# network, a read-only root, no capabilities, as nobody:
#   python3 -I -c SCRIPT KIND MAX_PAGES MAX_PIXELS
# reads /in/input and writes exactly one file, /out/safe.pdf (KIND pdf: every
# page drawn to pixels by poppler, the PDF rebuilt from those pixels alone)
# or /out/safe.png (KIND image: the first frame decoded, written again with
# no metadata). A failure is one line on stderr starting `zion-sanitise:`
# and exit status 65 (unreadable input) or 66 (refused: too many pages or
# pixels).
import os
import subprocess
import sys
import warnings

IN = "/in/input"
OUT = "/out"
PAGES = "/tmp/pages"


def fail(code, message):
    print("zion-sanitise: " + message, file=sys.stderr, flush=True)
    sys.exit(code)


def interfaces():
    with open("/proc/net/dev") as f:
        lines = f.read().splitlines()[2:]
    return sorted(line.split(":")[0].strip() for line in lines)


kind, max_pages, max_pixels = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# What the test and the log read: the network this converter could reach.
print("zion-sanitise: interfaces: " + " ".join(interfaces()), flush=True)
print("zion-sanitise: kernel: " + os.uname().release, flush=True)

try:
    from PIL import Image
except ImportError as e:
    fail(70, "Pillow is missing from the sanitiser image: %s" % e)

Image.MAX_IMAGE_PIXELS = max_pixels
# Past MAX_IMAGE_PIXELS Pillow only warns (it refuses at twice as many).
warnings.simplefilter("error", Image.DecompressionBombWarning)


def pixels_only(im):
    """A new image holding nothing but `im`'s pixels: no info, no EXIF,
    no ICC profile, no text chunks."""
    im.load()
    transparent = im.mode in ("RGBA", "LA", "PA") or (
        im.mode == "P" and "transparency" in im.info
    )
    mode = "RGBA" if transparent else "RGB"
    im = im.convert(mode)
    return Image.frombytes(mode, im.size, im.tobytes())


if kind == "image":
    try:
        with Image.open(IN) as im:
            safe = pixels_only(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        fail(66, "too many pixels: %s" % e)
    except Exception as e:
        fail(65, "not an image the sanitiser can read: %s" % e)
    safe.save(OUT + "/safe.png", format="PNG")
elif kind == "pdf":
    info = subprocess.run(["pdfinfo", IN], capture_output=True, text=True)
    pages = None
    for line in info.stdout.splitlines():
        if line.startswith("Pages:"):
            pages = int(line.split()[1])
    if info.returncode != 0 or pages is None:
        why = (info.stderr.strip().splitlines() or ["pdfinfo failed"])[-1]
        fail(65, "not a PDF poppler can read (%s)" % why[:300])
    if pages < 1:
        fail(65, "a PDF without pages")
    if pages > max_pages:
        fail(66, "%d pages, more than the %d the sanitiser draws" % (pages, max_pages))
    os.mkdir(PAGES)
    # 100 dpi, each page cut at 2400 x 2400 pixels (a page of giant
    # dimensions is cropped, not drawn at any size).
    drawn = subprocess.run(
        ["pdftoppm", "-r", "100", "-W", "2400", "-H", "2400", "-png", IN, PAGES + "/p"],
        capture_output=True,
        text=True,
    )
    if drawn.returncode != 0:
        why = (drawn.stderr.strip().splitlines() or ["pdftoppm failed"])[-1]
        fail(65, "poppler could not draw the pages (%s)" % why[:300])
    files = sorted(os.listdir(PAGES))
    if len(files) != pages:
        fail(65, "poppler drew %d of %d pages" % (len(files), pages))
    images = [Image.open(os.path.join(PAGES, f)) for f in files]
    images[0].save(
        OUT + "/safe.pdf",
        format="PDF",
        save_all=True,
        append_images=images[1:],
        resolution=100.0,
    )
else:
    fail(64, "unknown kind %r" % kind)
print("zion-sanitise: done", flush=True)
