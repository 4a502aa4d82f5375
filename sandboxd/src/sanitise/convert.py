# Zion's sanitiser (issue 17), run inside a throw-away container with no
# network, a read-only root, no capabilities, as nobody:
#   python3 -I -c SCRIPT KIND MAX_PAGES MAX_PIXELS [EXT MAX_MEMBERS MAX_UNPACKED]
# reads /in/input and writes exactly one file, /out/safe.pdf (KIND pdf: every
# page drawn to pixels by poppler, the PDF rebuilt from those pixels alone;
# KIND office: LibreOffice, headless, makes the document of type EXT a PDF
# in /tmp first, which then goes the same way) or /out/safe.png (KIND image:
# the first frame decoded, written again with no metadata). A failure is one
# line on stderr starting `zion-sanitise:` and exit status 65 (unreadable
# input) or 66 (refused: too many pages, pixels or members, too large
# unpacked).
import os
import shutil
import subprocess
import sys
import warnings
import zipfile

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


def pdf_to_pixels(source):
    """Draws every page of the PDF `source` and rebuilds /out/safe.pdf from
    the pixels alone."""
    info = subprocess.run(["pdfinfo", source], capture_output=True, text=True)
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
        ["pdftoppm", "-r", "100", "-W", "2400", "-H", "2400", "-png", source, PAGES + "/p"],
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


# OpenDocument and Office Open XML are zips; the rest LibreOffice reads as is.
ZIPPED = ("docx", "xlsx", "pptx", "odt", "ods", "odp", "odg")


def check_zip(max_members, max_unpacked):
    """Refuses a zip bomb before LibreOffice opens it: every member is
    inflated here, counted as it comes, and checked against its CRC, so
    that what the members claim (which the host checked) is what they
    hold."""
    try:
        with zipfile.ZipFile(IN) as z:
            members = z.infolist()
            if len(members) > max_members:
                fail(66, "a zip of %d members, more than the %d an office document may have"
                     % (len(members), max_members))
            total = 0
            for member in members:
                with z.open(member) as f:
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        total += len(chunk)
                        if total > max_unpacked:
                            fail(66, "its members unpack to more than %d MiB (a zip bomb?)"
                                 % (max_unpacked >> 20))
    except zipfile.BadZipFile as e:
        fail(65, "a damaged zip, or one whose members hold other than they claim"
             " (a zip bomb?): %s" % str(e)[:300])
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
            ValueError, OSError) as e:
        fail(65, "a zip LibreOffice is not given (encrypted or unsupported): %s"
             % str(e)[:300])


# Its own folder's launcher: /usr/bin/soffice finds that folder by reading
# its link with `ls -l`, which fails here.
SOFFICE = "/usr/lib/libreoffice/program/soffice"


def office_to_pdf(ext):
    """LibreOffice, headless, with a fresh profile in /tmp: the document of
    type `ext` made a PDF. Returns the PDF's path."""
    docs, pdfs = "/tmp/doc", "/tmp/pdf"
    os.mkdir(docs)
    os.mkdir(pdfs)
    source = os.path.join(docs, "input." + ext)
    shutil.copyfile(IN, source)
    env = dict(os.environ, SAL_USE_VCLPLUGIN="svp", SAL_ENABLE_FILE_LOCKING="0")
    made = subprocess.run(
        [SOFFICE, "--headless", "--invisible", "--nodefault", "--nofirststartwizard",
         "--nolockcheck", "--nologo", "--norestore",
         "-env:UserInstallation=file:///tmp/lo-profile",
         "--convert-to", "pdf", "--outdir", pdfs, source],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
    )
    said = (made.stdout + made.stderr).strip()
    print("zion-sanitise: libreoffice: " + " | ".join(said.splitlines())[:500], flush=True)
    pdf = os.path.join(pdfs, "input.pdf")
    if made.returncode != 0 or not os.path.isfile(pdf) or os.path.getsize(pdf) == 0:
        why = (said.splitlines() or ["no PDF made"])[-1]
        fail(65, "LibreOffice could not read it as a .%s document (%s)" % (ext, why[:300]))
    os.remove(source)
    return pdf


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
    pdf_to_pixels(IN)
elif kind == "office":
    ext, max_members, max_unpacked = sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    if ext in ZIPPED:
        check_zip(max_members, max_unpacked)
    pdf_to_pixels(office_to_pdf(ext))
else:
    fail(64, "unknown kind %r" % kind)
print("zion-sanitise: done", flush=True)
