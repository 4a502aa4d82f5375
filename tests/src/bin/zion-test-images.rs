//! Builds the test images into the cache once (`make test-images`), so that
//! no test waits on debootstrap.

use zion_tests::images::{ImageCache, TestImage};

fn main() {
    let cache = ImageCache::default_location();
    for image in [
        TestImage::Base,
        TestImage::Wayland,
        TestImage::Browser,
        TestImage::Firefox,
        TestImage::Sanitiser,
    ] {
        match cache.ensure(image) {
            Ok(reference) => println!("test image ready: {reference}"),
            Err(err) => {
                eprintln!("zion-test-images: {err}");
                std::process::exit(1);
            }
        }
    }
}
