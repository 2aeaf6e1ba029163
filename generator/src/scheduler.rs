//! Samplers: how the latents move from noise to a clip, one denoiser call per step.
//!
//! - Flow-matching Euler: the sample moves from noise (σ = 1) to data (σ = 0) along the
//!   predicted velocity, `x ← x + (σ' − σ)·v`, over a (optionally shifted) linear schedule.
//! - DDIM (η = 0) for ε- and v-prediction models trained over a discrete β schedule: from the
//!   prediction, estimate x₀ and ε, then `x ← √ᾱ'·x₀ + √(1−ᾱ')·ε`. Starts from unit noise at
//!   the last training timestep (the "trailing" spacing, so the first step sees pure noise).
//!
//! Classifier-free guidance mixes the unconditional (negative-prompt) and conditional
//! predictions before the step: `u + g·(c − u)`.

use crate::manifest::{BetaSchedule, Prediction, SamplingSpec, SchedulerKind};

/// The noise levels of `steps` flow-matching steps, from 1 down to 0 (`steps + 1` values).
/// `shift` > 1 spends more steps at high noise, as the larger flow-matching video models do.
pub fn sigmas(steps: usize, shift: f32) -> Vec<f32> {
    (0..=steps)
        .map(|i| {
            let t = 1.0 - i as f32 / steps.max(1) as f32;
            shift * t / (1.0 + (shift - 1.0) * t)
        })
        .collect()
}

/// One flow-matching Euler step in place.
pub fn euler_step(x: &mut [f32], v: &[f32], sigma: f32, sigma_next: f32) {
    let dt = sigma_next - sigma;
    for (xi, vi) in x.iter_mut().zip(v) {
        *xi += dt * vi;
    }
}

/// Classifier-free guidance: `uncond + g · (cond − uncond)`.
pub fn guide(uncond: &[f32], cond: &[f32], scale: f32) -> Vec<f32> {
    uncond.iter().zip(cond).map(|(u, c)| u + scale * (c - u)).collect()
}

/// ᾱ_t of a discrete β schedule, `train_timesteps` values.
pub fn alphas_cumprod(schedule: BetaSchedule, start: f32, end: f32, train_timesteps: usize) -> Vec<f64> {
    let n = train_timesteps.max(2);
    let mut acc = 1.0f64;
    (0..n)
        .map(|i| {
            let f = i as f64 / (n - 1) as f64;
            let beta = match schedule {
                BetaSchedule::Linear => f64::from(start) + f * f64::from(end - start),
                BetaSchedule::ScaledLinear => {
                    let (a, b) = (f64::from(start).sqrt(), f64::from(end).sqrt());
                    let s = a + f * (b - a);
                    s * s
                }
            };
            acc *= 1.0 - beta;
            acc
        })
        .collect()
}

/// A sampler for one generation: its steps, the timestep each step gives the denoiser, and the
/// update after each prediction.
#[derive(Debug, Clone)]
pub enum Sampler {
    /// Flow matching.
    Flow {
        /// σ per step boundary (`steps + 1`).
        sigmas: Vec<f32>,
        /// Multiplier of σ for the model's timestep input.
        timestep_scale: f32,
    },
    /// DDIM.
    Ddim {
        /// Training timestep per step, descending.
        timesteps: Vec<usize>,
        /// ᾱ per training timestep.
        alphas: Vec<f64>,
        /// What the model predicts.
        prediction: Prediction,
        /// Multiplier of the timestep index for the model's input.
        timestep_scale: f32,
    },
}

impl Sampler {
    /// The sampler the manifest describes, with `steps` steps.
    pub fn new(spec: &SamplingSpec, steps: usize) -> Self {
        let steps = steps.max(1);
        match spec.scheduler {
            SchedulerKind::FlowMatchingEuler => {
                Sampler::Flow { sigmas: sigmas(steps, spec.shift), timestep_scale: spec.timestep_scale }
            }
            SchedulerKind::Ddim => {
                let n = spec.train_timesteps.max(steps);
                // Trailing spacing: n-1, then evenly down, so the first step is at pure noise.
                let timesteps: Vec<usize> =
                    (0..steps).map(|i| (n as f64 * (1.0 - i as f64 / steps as f64)).round() as usize - 1).collect();
                Sampler::Ddim {
                    timesteps,
                    alphas: alphas_cumprod(
                        spec.beta_schedule.unwrap_or(BetaSchedule::ScaledLinear),
                        spec.beta_start,
                        spec.beta_end,
                        n,
                    ),
                    prediction: spec.prediction.unwrap_or(Prediction::Epsilon),
                    timestep_scale: spec.timestep_scale,
                }
            }
        }
    }

    /// Number of denoiser calls.
    pub fn steps(&self) -> usize {
        match self {
            Sampler::Flow { sigmas, .. } => sigmas.len().saturating_sub(1),
            Sampler::Ddim { timesteps, .. } => timesteps.len(),
        }
    }

    /// The denoiser's timestep input at step `i`.
    pub fn model_timestep(&self, i: usize) -> f32 {
        match self {
            Sampler::Flow { sigmas, timestep_scale } => sigmas.get(i).copied().unwrap_or(0.0) * timestep_scale,
            Sampler::Ddim { timesteps, timestep_scale, .. } => {
                timesteps.get(i).copied().unwrap_or(0) as f32 * timestep_scale
            }
        }
    }

    /// Updates `x` in place after step `i`'s (guided) prediction `out`.
    pub fn step(&self, i: usize, x: &mut [f32], out: &[f32]) {
        match self {
            Sampler::Flow { sigmas, .. } => {
                let (s, next) = (sigmas.get(i).copied().unwrap_or(0.0), sigmas.get(i + 1).copied().unwrap_or(0.0));
                euler_step(x, out, s, next);
            }
            Sampler::Ddim { timesteps, alphas, prediction, .. } => {
                let a = timesteps.get(i).and_then(|&t| alphas.get(t)).copied().unwrap_or(1.0);
                let a_next = timesteps.get(i + 1).and_then(|&t| alphas.get(t)).copied().unwrap_or(1.0);
                let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
                let (na, nb) = (a_next.sqrt(), (1.0 - a_next).sqrt());
                for (xi, &o) in x.iter_mut().zip(out) {
                    let (xv, ov) = (f64::from(*xi), f64::from(o));
                    let (x0, eps) = match prediction {
                        Prediction::Epsilon => ((xv - sb * ov) / sa, ov),
                        Prediction::VPrediction => (sa * xv - sb * ov, sb * xv + sa * ov),
                    };
                    *xi = (na * x0 + nb * eps) as f32;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: SchedulerKind, prediction: Option<Prediction>) -> SamplingSpec {
        SamplingSpec {
            scheduler: kind,
            prediction,
            steps: 10,
            min_steps: 1,
            max_steps: None,
            guidance_scale: 1.0,
            max_guidance_scale: None,
            negative_prompt: String::new(),
            shift: 1.0,
            timestep_scale: 1.0,
            train_timesteps: 1000,
            beta_schedule: Some(BetaSchedule::ScaledLinear),
            beta_start: 0.000_85,
            beta_end: 0.012,
        }
    }

    #[test]
    fn schedule_runs_from_one_to_zero_monotonically() {
        for shift in [1.0, 3.0] {
            let s = sigmas(8, shift);
            assert_eq!(s.len(), 9);
            assert!((s[0] - 1.0).abs() < 1e-6);
            assert!(s[8].abs() < 1e-6);
            assert!(s.windows(2).all(|w| w[1] < w[0]));
        }
        // A shift keeps more of the schedule at high noise.
        assert!(sigmas(8, 3.0)[4] > sigmas(8, 1.0)[4]);
    }

    #[test]
    fn euler_integrates_a_constant_velocity_exactly() {
        // With v = x1 - x0 constant, integrating from sigma 1 to 0 moves x by -v.
        let mut x = vec![1.0, 2.0];
        let v = vec![0.5, -1.0];
        let sampler = Sampler::new(&spec(SchedulerKind::FlowMatchingEuler, None), 4);
        for i in 0..sampler.steps() {
            sampler.step(i, &mut x, &v);
        }
        assert!((x[0] - 0.5).abs() < 1e-6 && (x[1] - 3.0).abs() < 1e-6);
        assert_eq!(guide(&[1.0], &[2.0], 3.0), vec![4.0]);
    }

    /// An oracle model that knows the clean sample x₀ predicts ε (or v) exactly from x_t; DDIM
    /// with such a model lands on x₀ whatever the number of steps.
    fn ddim_recovers(prediction: Prediction, steps: usize) {
        let s = Sampler::new(&spec(SchedulerKind::Ddim, Some(prediction)), steps);
        let Sampler::Ddim { timesteps, alphas, .. } = &s else { unreachable!() };
        assert_eq!(timesteps.len(), steps);
        assert_eq!(timesteps[0], 999, "the first step is at the last training timestep");
        assert!(timesteps.windows(2).all(|w| w[1] < w[0]));
        let x0 = [0.3f64, -0.7, 1.2];
        let noise = [1.1f64, -0.4, 0.2];
        // Start at the first timestep's marginal, as a model trained to the end would.
        let a0 = alphas[timesteps[0]];
        let mut x: Vec<f32> =
            x0.iter().zip(&noise).map(|(a, n)| (a0.sqrt() * a + (1.0 - a0).sqrt() * n) as f32).collect();
        for i in 0..s.steps() {
            let a = alphas[timesteps[i]];
            let out: Vec<f32> = x
                .iter()
                .zip(&x0)
                .map(|(&xt, &c)| {
                    let eps = (f64::from(xt) - a.sqrt() * c) / (1.0 - a).sqrt();
                    match prediction {
                        Prediction::Epsilon => eps as f32,
                        Prediction::VPrediction => (a.sqrt() * eps - (1.0 - a).sqrt() * c) as f32,
                    }
                })
                .collect();
            s.step(i, &mut x, &out);
        }
        for (got, want) in x.iter().zip(&x0) {
            assert!((f64::from(*got) - want).abs() < 1e-3, "{prediction:?} {steps}: {x:?} vs {x0:?}");
        }
    }

    #[test]
    fn ddim_lands_on_the_clean_sample_for_epsilon_and_v_models() {
        for steps in [1, 4, 25] {
            ddim_recovers(Prediction::Epsilon, steps);
            ddim_recovers(Prediction::VPrediction, steps);
        }
    }

    #[test]
    fn beta_schedules_decrease_alpha_bar() {
        for b in [BetaSchedule::Linear, BetaSchedule::ScaledLinear] {
            let a = alphas_cumprod(b, 0.000_85, 0.012, 1000);
            assert_eq!(a.len(), 1000);
            assert!(a.windows(2).all(|w| w[1] < w[0]));
            assert!(a[999] > 0.0 && a[999] < 0.01, "{b:?}: {}", a[999]);
        }
        let s = Sampler::new(&spec(SchedulerKind::Ddim, Some(Prediction::Epsilon)), 10);
        assert_eq!(s.model_timestep(0), 999.0);
    }
}
