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
    /// Seed of the uniform[0, 0.01) initialisation.
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
            seed: 42,
            compute_loss: false,
        }
    }
}

impl AlsParams {
    /// Checks every rule, returning the first broken one: factors > 0, regularization finite
    /// and >= 0, alpha finite and > 0, iterations > 0, conjugate-gradient steps > 0.
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
    fn confidence_formulas() {
        // Hu: 1 + 2·3 = 7; Linear: 2·3 = 6.
        assert_eq!(Confidence::Hu.of(2.0, 3.0), 7.0);
        assert_eq!(Confidence::Linear.of(2.0, 3.0), 6.0);
    }
}
