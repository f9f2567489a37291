//! Hand-worked log-loss and classification-report tables.

use super::*;
use approx::{assert_abs_diff_eq, assert_relative_eq};

/// labels [1,0,1,0], p [0.8,0.3,0.5,0.0]: losses -ln 0.8 = 0.22314355131420976,
/// -ln 0.7 = 0.35667494393873238, -ln 0.5 = 0.69314718055994531, -ln(1 - eps) ≈ 2.2e-16.
/// Mean = 1.27296567581288745 / 4 = 0.31824141895322186.
#[test]
fn log_loss_hand_worked() {
    let l = log_loss(&[true, false, true, false], &[0.8, 0.3, 0.5, 0.0]).unwrap();
    assert_abs_diff_eq!(l, 0.318_241_418_953_221_86, epsilon = 1e-15);
}

/// A confident mistake is clipped at eps = 2^-52: -ln(2^-52) = 52 ln 2 = 36.04365338911715.
#[test]
fn log_loss_clips_at_machine_epsilon() {
    assert_relative_eq!(
        log_loss(&[false], &[1.0]).unwrap(),
        36.043_653_389_117_15,
        max_relative = 1e-14
    );
    assert_relative_eq!(
        log_loss(&[true], &[0.0]).unwrap(),
        36.043_653_389_117_15,
        max_relative = 1e-14
    );
    // Single-class input is fine (the peers pass labels=[0, 1]).
    assert_abs_diff_eq!(
        log_loss(&[true, true], &[0.5, 0.5]).unwrap(),
        std::f64::consts::LN_2,
        epsilon = 1e-15
    );
}

/// Peer form log_loss(y, clip(p, 1e-7, 1 - 1e-7)): label 0 with p = 1 loses
/// -ln(1 - (1 - 1e-7)) ≈ -ln(1e-7) = 16.11809565095832; out-of-range p is clamped, not rejected.
#[test]
fn log_loss_clipped_like_peers() {
    let l = log_loss_clipped(&[false, true], &[1.0, 1.5], 1e-7).unwrap();
    // Row 2: p clamped to 1 - 1e-7, loss -ln(1 - 1e-7) ≈ 1.00000005e-7.
    assert_relative_eq!(
        l,
        (16.118_095_650_958_32 + 1.000_000_05e-7) / 2.0,
        max_relative = 1e-8
    );
    assert!(matches!(
        log_loss_clipped(&[true], &[0.5], 0.5).unwrap_err(),
        MetricError::InvalidClip(_)
    ));
    assert!(matches!(
        log_loss_clipped(&[true], &[f64::NAN], 1e-7).unwrap_err(),
        MetricError::NonFinite { .. }
    ));
}

#[test]
fn log_loss_errors() {
    assert!(matches!(
        log_loss(&[true], &[0.5, 0.5]).unwrap_err(),
        MetricError::LengthMismatch { .. }
    ));
    assert!(matches!(
        log_loss(&[], &[]).unwrap_err(),
        MetricError::Empty { .. }
    ));
    assert!(matches!(
        log_loss(&[true], &[f64::NAN]).unwrap_err(),
        MetricError::NonFinite { .. }
    ));
    let e = log_loss(&[true, false], &[0.5, 1.2]).unwrap_err();
    assert_eq!(
        e,
        MetricError::ProbabilityOutOfRange {
            index: 1,
            value: 1.2
        }
    );
}

/// labels [0,0,0,1,1,1,1,0], scores [.1,.6,.3,.7,.8,.2,.65,.4], threshold 0.65 (>= -> 1):
/// predictions [0,0,0,1,1,0,1,0]. Confusion (rows true, cols predicted): [[4,0],[1,3]].
/// Class 0: tp 4, predicted 5, true 4 -> precision 0.8, recall 1, f1 8/9, support 4.
/// Class 1: tp 3, predicted 3, true 4 -> precision 1, recall 0.75, f1 6/7, support 4.
/// Accuracy 7/8.
#[test]
fn report_hand_worked() {
    let labels = [false, false, false, true, true, true, true, false];
    let scores = [0.1, 0.6, 0.3, 0.7, 0.8, 0.2, 0.65, 0.4];
    let r = classification_report(&labels, &scores, 0.65).unwrap();
    assert_eq!(r.confusion, [[4, 0], [1, 3]]);
    let [c0, c1] = r.classes;
    assert_eq!((c0.precision, c0.recall, c0.support), (0.8, 1.0, 4));
    assert_abs_diff_eq!(c0.f1, 8.0 / 9.0, epsilon = 1e-15);
    assert_eq!((c1.precision, c1.recall, c1.support), (1.0, 0.75, 4));
    assert_abs_diff_eq!(c1.f1, 6.0 / 7.0, epsilon = 1e-15);
    assert_eq!(r.accuracy, 0.875);
    assert_eq!(r.threshold, 0.65);
}

/// Threshold +inf: everything predicted 0. Class 1 has no predictions -> precision 0
/// (zero_division=0), recall 0, f1 0/(4+0) = 0. Class 0: precision 4/8, recall 1,
/// f1 8/(4+8) = 2/3. Confusion [[4,0],[4,0]], accuracy 0.5.
#[test]
fn report_zero_division() {
    let labels = [false, false, false, true, true, true, true, false];
    let scores = [0.1, 0.6, 0.3, 0.7, 0.8, 0.2, 0.65, 0.4];
    let r = classification_report(&labels, &scores, f64::INFINITY).unwrap();
    assert_eq!(r.confusion, [[4, 0], [4, 0]]);
    assert_eq!(
        (r.classes[1].precision, r.classes[1].recall, r.classes[1].f1),
        (0.0, 0.0, 0.0)
    );
    assert_eq!((r.classes[0].precision, r.classes[0].recall), (0.5, 1.0));
    assert_abs_diff_eq!(r.classes[0].f1, 2.0 / 3.0, epsilon = 1e-15);
    assert_eq!(r.accuracy, 0.5);
    // Only class 0 present and predicted: class 1 is 0/0 everywhere -> all 0.
    let r = classification_report(&[false, false], &[0.1, 0.2], 0.5).unwrap();
    assert_eq!(
        r.classes[1],
        ClassStats {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            support: 0
        }
    );
    assert_eq!((r.classes[0].f1, r.accuracy), (1.0, 1.0));
}

#[test]
fn report_serializes_snake_case() {
    let r = classification_report(&[false, true], &[0.2, 0.9], 0.5).unwrap();
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["classes"][1]["support"], 1);
    assert_eq!(json["confusion"], serde_json::json!([[1, 0], [0, 1]]));
    assert_eq!(json["accuracy"], 1.0);
}

#[test]
fn report_errors() {
    let e = classification_report(&[true], &[0.1, 0.2], 0.5).unwrap_err();
    assert!(matches!(e, MetricError::LengthMismatch { .. }));
    assert!(matches!(
        classification_report(&[], &[], 0.5).unwrap_err(),
        MetricError::Empty { .. }
    ));
    let e = classification_report(&[true], &[f64::NEG_INFINITY], 0.5).unwrap_err();
    assert!(matches!(e, MetricError::NonFinite { .. }));
    let e = classification_report(&[true], &[0.1], f64::NAN).unwrap_err();
    assert!(matches!(e, MetricError::InvalidThreshold(_)));
}
