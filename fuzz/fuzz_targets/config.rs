//! The three option parsers that read caller text: the client config, discovery options and stream
//! options. None may panic; what they accept must pass its own validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pieces_user::{Config, DiscoveryOptions, StreamOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_json(text) {
        assert!(
            config.validate().is_ok(),
            "accepted an invalid config: {config:?}"
        );
    }
    if let Ok(options) = DiscoveryOptions::from_json(text) {
        assert!(options.validate().is_ok());
    }
    if let Ok(options) = StreamOptions::from_json(text) {
        assert!(options.validate().is_ok());
    }
});
