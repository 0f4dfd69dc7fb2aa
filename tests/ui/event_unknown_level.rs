fn main() {
    ttlog::event!(ttlog::Level::VERBOSE, "cache warmed");
}
