//! Flow-matching Euler: the sample moves from noise (sigma = 1) to data (sigma = 0) along the
//! predicted velocity, `x ← x + (σ_next − σ) · v`, over a (optionally shifted) linear schedule.

/// The noise levels of `steps` steps, from 1 down to 0 (`steps + 1` values). `shift` > 1 spends
/// more steps at high noise, as the larger flow-matching video models do.
pub fn sigmas(steps: usize, shift: f32) -> Vec<f32> {
    (0..=steps)
        .map(|i| {
            let t = 1.0 - i as f32 / steps.max(1) as f32;
            shift * t / (1.0 + (shift - 1.0) * t)
        })
        .collect()
}

/// One Euler step in place.
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let s = sigmas(4, 1.0);
        for w in s.windows(2) {
            euler_step(&mut x, &v, w[0], w[1]);
        }
        assert!((x[0] - 0.5).abs() < 1e-6 && (x[1] - 3.0).abs() < 1e-6);
        assert_eq!(guide(&[1.0], &[2.0], 3.0), vec![4.0]);
    }
}
