//! The option strings of the CLI and the page: noise stacks (`--noise "snp:0.1,gauss:0.3"`),
//! pruning (`--prune`) and fine-tuning depths; any text parses or gives an error, never a panic.
#![no_main]

use latentlab::data::NoiseStack;
use latentlab::model::{PruneSpec, Unfreeze};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(noise) = text.parse::<NoiseStack>() {
        // What parses prints back as something that parses to the same stack.
        let again: NoiseStack = noise.to_string().parse().expect("a printed stack parses");
        assert_eq!(again, noise);
    }
    if let Ok(prune) = PruneSpec::with_options(text) {
        let again = PruneSpec::with_options(&prune.to_options()).expect("printed options parse");
        assert_eq!(again, prune);
    }
    let _ = Unfreeze::parse(text);
});
