//! The search space: its bounds, the rejection of impossible nets, the study's best net as a
//! point of it, and the objective.

use std::collections::BTreeMap;

use latentlab::model::{ModelSpec, SpecError};
use latentlab::search::{
    Candidate, RandomSuggest, Recorded, Recording, SearchSettings, Suggest, TpeSearch, draw,
    median_prune, objective,
};

/// Passes a random stream through and keeps every (name, low, high, value) asked.
struct Bounds {
    inner: RandomSuggest,
    asked: Vec<(String, f64, f64, f64)>,
}

impl Suggest for Bounds {
    fn int(&mut self, name: &str, low: i64, high: i64, log: bool) -> Result<i64, String> {
        let v = self.inner.int(name, low, high, log)?;
        self.asked
            .push((name.into(), low as f64, high as f64, v as f64));
        Ok(v)
    }

    fn float(&mut self, name: &str, low: f64, high: f64, log: bool) -> Result<f64, String> {
        let v = self.inner.float(name, low, high, log)?;
        self.asked.push((name.into(), low, high, v));
        Ok(v)
    }
}

fn settings() -> SearchSettings {
    SearchSettings { epochs: 7 }
}

#[test]
fn the_space_keeps_the_studys_bounds_and_rejects_impossible_nets() {
    let mut random = Bounds {
        inner: RandomSuggest::new(3),
        asked: Vec::new(),
    };
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..2000 {
        random.asked.clear();
        let mut logged = Recording::new(&mut random);
        let candidate = draw(&mut logged, &settings()).unwrap();
        assert_eq!(logged.params.len(), random.asked.len());
        let logged = &random;
        let value = |name: &str| -> f64 { logged.asked.iter().find(|a| a.0 == name).unwrap().3 };
        for (name, low, high, v) in &logged.asked {
            assert!(
                (*low..=*high).contains(v),
                "{name} = {v} outside [{low}, {high}]"
            );
            // The study's layer-dependent ranges (j counted from 1).
            if let Some(j) = name
                .strip_prefix("conv")
                .and_then(|r| r.strip_suffix("_channels"))
            {
                let j: u32 = j.parse().unwrap();
                assert_eq!((*low, *high), (4.0, 4.0 * 2f64.powi(j as i32)), "{name}");
            }
            if let Some(j) = name
                .strip_prefix("hidden")
                .and_then(|r| r.strip_suffix("_units"))
            {
                let j: u32 = j.parse().unwrap();
                assert_eq!((*low, *high), (8.0, 512.0 / 2f64.powi(j as i32)), "{name}");
            }
            if let Some(j) = name
                .strip_prefix("conv")
                .and_then(|r| r.strip_suffix("_padding"))
            {
                let kernel = value(&format!("conv{j}_kernel"));
                assert_eq!(*high, (kernel / 2.0).floor(), "{name}");
            }
        }
        let spec = match candidate {
            Candidate::Valid(spec) => {
                valid += 1;
                spec.validate().expect("a valid candidate builds");
                spec
            }
            Candidate::Invalid(spec, e) => {
                invalid += 1;
                assert!(spec.validate().is_err());
                assert!(!matches!(e, SpecError::Train(_)), "only shapes reject: {e}");
                spec
            }
        };
        assert!((2..=4).contains(&spec.arch.conv.len()));
        assert!((1..=3).contains(&spec.arch.hidden.len()));
        assert!((1..=16).contains(&spec.arch.latent));
        assert_eq!(spec.train.epochs, 7);
        assert_eq!(spec.train.pruning.is_some(), value("prune_every") > 0.0);
    }
    // As in the study, a large share of random nets are impossible, but far from all.
    assert!(
        valid > 200 && invalid > 200,
        "{valid} valid, {invalid} invalid"
    );
}

fn best_params() -> BTreeMap<String, f64> {
    let p = [
        ("conv_layers", 3.0),
        ("conv1_channels", 6.0),
        ("conv1_kernel", 2.0),
        ("conv1_stride", 1.0),
        ("conv1_padding", 1.0),
        ("conv2_channels", 12.0),
        ("conv2_kernel", 2.0),
        ("conv2_stride", 1.0),
        ("conv2_padding", 0.0),
        ("conv3_channels", 17.0),
        ("conv3_kernel", 3.0),
        ("conv3_stride", 3.0),
        ("conv3_padding", 1.0),
        ("hidden_layers", 1.0),
        ("hidden1_units", 57.0),
        ("dropout", 0.19),
        ("latent", 6.0),
        ("lr", 2.89e-3),
        ("weight_decay", 6.51e-7),
        ("batch_size", 383.0),
        ("patience", 13.0),
        ("prune_every", 0.0),
    ];
    p.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[test]
fn the_studys_best_net_is_a_point_of_the_space() {
    let Candidate::Valid(spec) = draw(&mut Recorded(best_params()), &settings()).unwrap() else {
        panic!("best is valid");
    };
    let best = ModelSpec::best();
    assert_eq!(spec.arch, best.arch);
    assert_eq!(
        (spec.train.lr, spec.train.batch_size, spec.train.patience),
        (best.train.lr, best.train.batch_size, best.train.patience)
    );
}

#[test]
fn impossible_and_out_of_range_parameters_are_refused() {
    // Four 6x6 stride-4 convolutions shrink 28x28 to nothing.
    let mut p = best_params();
    p.insert("conv_layers".into(), 4.0);
    for j in 1..=4 {
        p.insert(format!("conv{j}_channels"), 4.0);
        p.insert(format!("conv{j}_kernel"), 6.0);
        p.insert(format!("conv{j}_stride"), 4.0);
        p.insert(format!("conv{j}_padding"), 0.0);
    }
    assert!(matches!(
        draw(&mut Recorded(p), &settings()).unwrap(),
        Candidate::Invalid(..)
    ));
    // A value outside the space, or a missing one, is an error naming the parameter.
    let mut p = best_params();
    p.insert("latent".into(), 17.0);
    let e = draw(&mut Recorded(p), &settings()).unwrap_err();
    assert!(e.contains("latent"), "{e}");
    let mut p = best_params();
    p.remove("lr");
    let e = draw(&mut Recorded(p), &settings()).unwrap_err();
    assert!(e.contains("lr"), "{e}");
}

#[test]
fn the_objective_is_the_studys() {
    assert!((objective(0.1, 2.0, 6) - (0.1 + 2e-5 + 0.06)).abs() < 1e-12);
}

/// A known function of four parameters (a float, a log float, an int, and an int whose value
/// decides whether a fifth is drawn); its minimum is 0.
fn known(s: &mut impl Suggest) -> f64 {
    let x = s.float("x", 0.0, 1.0, false).unwrap();
    let lr = s.float("lr", 1e-5, 1e-1, true).unwrap();
    let n = s.int("n", 1, 16, false).unwrap();
    let layers = s.int("layers", 2, 4, false).unwrap();
    let mut f =
        (x - 0.3).powi(2) + (lr.log10() + 3.0).powi(2) / 16.0 + ((n - 11) as f64 / 16.0).powi(2);
    if layers == 3 {
        f += (s.float("extra", -1.0, 1.0, false).unwrap() - 0.5).powi(2);
    } else {
        f += 0.3;
    }
    f
}

#[test]
fn tpe_beats_random_search_on_a_known_function() {
    let (trials, seeds) = (50, 12);
    let (mut tpe_sum, mut random_sum, mut tpe_wins) = (0.0, 0.0, 0);
    for seed in 0..seeds {
        let mut tpe = TpeSearch::new(seed, 10);
        let mut random = RandomSuggest::new(seed);
        let (mut tpe_best, mut random_best) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..trials {
            let v = known(&mut tpe);
            tpe.tell(v);
            tpe_best = tpe_best.min(v);
            random_best = random_best.min(known(&mut random));
        }
        assert_eq!(tpe.trials(), trials);
        tpe_sum += tpe_best;
        random_sum += random_best;
        tpe_wins += usize::from(tpe_best < random_best);
    }
    let (tpe_mean, random_mean) = (tpe_sum / seeds as f64, random_sum / seeds as f64);
    eprintln!(
        "mean best of {trials} trials: TPE {tpe_mean:.4}, random {random_mean:.4}; TPE better in {tpe_wins}/{seeds}"
    );
    assert!(
        tpe_mean < 0.6 * random_mean,
        "TPE {tpe_mean} vs random {random_mean}"
    );
    assert!(
        tpe_wins * 4 >= seeds as usize * 3,
        "TPE better in only {tpe_wins}/{seeds}"
    );
}

#[test]
fn the_median_rule_stops_trials_worse_than_the_median_so_far() {
    let earlier = vec![vec![0.1, 0.2], vec![0.3], vec![0.2, 0.4]];
    // Fold 0: median of 0.1, 0.3, 0.2 is 0.2.
    assert!(median_prune(&earlier, 0, 0.25, 3));
    assert!(!median_prune(&earlier, 0, 0.15, 3));
    // Too few earlier trials at fold 1 (2 < 3): never stop.
    assert!(!median_prune(&earlier, 1, 9.0, 3));
    assert!(median_prune(&earlier, 1, 0.31, 2));
    assert!(median_prune(&earlier, 0, f64::NAN, 1));
}
