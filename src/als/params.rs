//! ALS settings and their validation.

use super::AlsError;
use serde::{Deserialize, Serialize};

/// How an observed strength `r` becomes the confidence `c` of the pair (preference 1).
/// Unobserved pairs always have confidence 1 and preference 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// `c = 1 + alpha·r`, as in Hu, Koren & Volinsky (2008).
    Hu,
    /// `c = alpha·r`, what the `implicit` library does. With alpha = 1 and r = 1 an observed
    /// pair weighs the same as a missing one.
    Linear,
}

impl Confidence {
    /// The confidence of an observed pair with strength `r`.
    pub fn of(self, alpha: f32, r: f32) -> f32 {
        match self {
            Confidence::Hu => 1.0 + alpha * r,
            Confidence::Linear => alpha * r,
        }
    }
}

/// How each row's normal equations are solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    /// Conjugate gradient, `steps` steps per row warm-started from the previous factors
    /// (`implicit`'s default, with 3 steps). O(nnz·f) per row.
    Cg { steps: usize },
    /// Exact solve by Cholesky factorisation (in f64). O(nnz·f² + f³) per row.
    Cholesky,
}

/// How λ is applied to a row's normal equations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegScaling {
    /// `λI` for every row (as `implicit`).
    None,
    /// `λ·(n_row + α0·n_other)·I`, with `n_row` the row's stored entries and `n_other` the
    /// number of columns (users: `|I_u| + α0·|I|`; items: `|U_i| + α0·|U|`): the frequency
    /// scaling of Rendle et al. (2022) with exponent ν = 1.
    Frequency,
}

/// Settings of one ALS fit. Call [`AlsParams::validate`] (the fit does) before use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlsParams {
    /// Latent dimension f.
    pub factors: usize,
    /// λ, added as λI to every row's system (not scaled by the row's count).
    pub regularization: f32,
    /// Confidence scale, see [`Confidence`].
    pub alpha: f32,
    /// Number of ALS iterations (each solves all users, then all items).
    pub iterations: usize,
    pub confidence: Confidence,
    pub solver: Solver,
    /// Weight α0 of the unobserved pairs (the Gramian term); 1 is Hu et al.'s model.
    pub unobserved_weight: f32,
    /// How λ scales with the row's count, see [`RegScaling`].
    pub reg_scaling: RegScaling,
    /// Standard deviation of a normal N(0, σ²) initialisation; `None` draws uniform[0, 0.01)
    /// as `implicit` does. Rendle et al. use 0.1/√factors.
    pub init_std: Option<f32>,
    /// Seed of the initialisation.
    pub seed: u64,
    /// Compute the training loss after every iteration (one extra pass over the data).
    pub compute_loss: bool,
}

impl Default for AlsParams {
    /// The settings of the reference run: `implicit`'s defaults with 64 factors.
    fn default() -> Self {
        AlsParams {
            factors: 64,
            regularization: 0.01,
            alpha: 1.0,
            iterations: 15,
            confidence: Confidence::Linear,
            solver: Solver::Cg { steps: 3 },
            unobserved_weight: 1.0,
            reg_scaling: RegScaling::None,
            init_std: None,
            seed: 42,
            compute_loss: false,
        }
    }
}

impl AlsParams {
    /// Checks every rule, returning the first broken one: factors > 0, regularization finite
    /// and >= 0, alpha finite and > 0, iterations > 0, conjugate-gradient steps > 0, the
    /// unobserved weight finite and > 0, the init std finite and > 0.
    pub fn validate(&self) -> Result<(), AlsError> {
        if self.factors == 0 {
            return Err(AlsError::ZeroFactors {
                factors: self.factors,
            });
        }
        if !(self.regularization.is_finite() && self.regularization >= 0.0) {
            return Err(AlsError::InvalidRegularization {
                regularization: self.regularization,
            });
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(AlsError::InvalidAlpha { alpha: self.alpha });
        }
        if self.iterations == 0 {
            return Err(AlsError::ZeroIterations {
                iterations: self.iterations,
            });
        }
        if let Solver::Cg { steps: 0 } = self.solver {
            return Err(AlsError::ZeroCgSteps { steps: 0 });
        }
        let w0 = self.unobserved_weight;
        if !(w0.is_finite() && w0 > 0.0) {
            return Err(AlsError::InvalidUnobservedWeight { weight: w0 });
        }
        if let Some(std) = self.init_std.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(AlsError::InvalidInitStd { std });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_params_are_valid() {
        assert_eq!(AlsParams::default().validate(), Ok(()));
    }

    #[test]
    fn factors_cannot_be_zero() {
        let p = AlsParams {
            factors: 0,
            ..AlsParams::default()
        };
        assert_eq!(p.validate(), Err(AlsError::ZeroFactors { factors: 0 }));
    }

    #[test]
    fn regularization_cannot_be_negative_or_nan() {
        let p = AlsParams {
            regularization: -0.5,
            ..AlsParams::default()
        };
        assert_eq!(
            p.validate(),
            Err(AlsError::InvalidRegularization {
                regularization: -0.5
            })
        );
        let p = AlsParams {
            regularization: f32::NAN,
            ..AlsParams::default()
        };
        assert!(matches!(
            p.validate(),
            Err(AlsError::InvalidRegularization { .. })
        ));
        let p = AlsParams {
            regularization: 0.0,
            ..AlsParams::default()
        };
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn alpha_must_be_positive() {
        let p = AlsParams {
            alpha: 0.0,
            ..AlsParams::default()
        };
        assert_eq!(p.validate(), Err(AlsError::InvalidAlpha { alpha: 0.0 }));
        let p = AlsParams {
            alpha: f32::INFINITY,
            ..AlsParams::default()
        };
        assert!(matches!(p.validate(), Err(AlsError::InvalidAlpha { .. })));
    }

    #[test]
    fn iterations_cannot_be_zero() {
        let p = AlsParams {
            iterations: 0,
            ..AlsParams::default()
        };
        assert_eq!(
            p.validate(),
            Err(AlsError::ZeroIterations { iterations: 0 })
        );
    }

    #[test]
    fn cg_steps_cannot_be_zero() {
        let p = AlsParams {
            solver: Solver::Cg { steps: 0 },
            ..AlsParams::default()
        };
        assert_eq!(p.validate(), Err(AlsError::ZeroCgSteps { steps: 0 }));
    }

    #[test]
    fn unobserved_weight_and_init_std_must_be_positive() {
        for w in [0.0, -1.0, f32::NAN] {
            let p = AlsParams {
                unobserved_weight: w,
                ..AlsParams::default()
            };
            assert!(matches!(
                p.validate(),
                Err(AlsError::InvalidUnobservedWeight { .. })
            ));
        }
        let p = AlsParams {
            init_std: Some(0.0),
            ..AlsParams::default()
        };
        assert_eq!(p.validate(), Err(AlsError::InvalidInitStd { std: 0.0 }));
    }

    #[test]
    fn confidence_formulas() {
        // Hu: 1 + 2·3 = 7; Linear: 2·3 = 6.
        assert_eq!(Confidence::Hu.of(2.0, 3.0), 7.0);
        assert_eq!(Confidence::Linear.of(2.0, 3.0), 6.0);
    }
}
