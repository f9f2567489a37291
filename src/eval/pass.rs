//! One scoring pass per eval user for the full-ranking top K and the sampled 1 + N protocol.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::candidates::Candidates;
use super::{AtK, EvalError, EvalSettings, ModelMetrics, PerUser};
use crate::config::RankingMode;
use crate::dataset::Dataset;
use crate::metrics::{self, RankingAccumulator, SampledMetrics, UserRank};
use crate::model::Recommender;

/// What one user contributes: their top `k_max` list with its metrics at each cutoff (full
/// ranking), and the sampled protocol's 0-based rank of each positive.
struct UserPass {
    top: Option<(Vec<UserRank>, Vec<u32>)>,
    /// The top list with scores and labels, and the positives beyond it (full ranking).
    list: Option<RankedList>,
    sampled: SampledPass,
}

/// One user's full-ranking top `k_max` in rank order (item, score, whether it is a test
/// positive) and the test positives beyond it (item, score): `predictions/<model>.ranked.csv`,
/// from which `clickrec metrics` recomputes the run's top-K figures.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedList {
    pub user: u32,
    pub top: Vec<(u32, f32, bool)>,
    pub beyond: Vec<(u32, f32)>,
}

/// One user's sampled-protocol result.
#[derive(Default)]
struct SampledPass {
    /// 0-based rank of each scored positive among its negatives.
    ranks: Vec<usize>,
    /// Fewest and most negatives a positive was scored against.
    negatives: Option<(usize, usize)>,
    /// Positives left out (too few unseen items to draw from, or no candidate line).
    skipped: usize,
}

/// Run the per-user pass and write the full-ranking and/or sampled metrics into `m`.
pub(super) fn full_and_sampled(
    model: &dyn Recommender,
    ds: &Dataset,
    s: &EvalSettings,
    full: bool,
    want_sampled: bool,
    m: &mut ModelMetrics,
) -> Result<Option<Vec<RankedList>>, EvalError> {
    let ks = s.cutoffs();
    let (users, items) = positives(ds);
    let mut pass = user_pass(model, ds, &users, &items, s, full, want_sampled)?;
    if full {
        full_ranking(ds, &users, &pass, &items, &ks, m)?;
    }
    // Only where the run's top-K figures are the full ranking's (not replaced by the sampled
    // protocol's under `ranking = "sampled"`).
    let lists: Option<Vec<RankedList>> = (full && s.ranking != RankingMode::Sampled).then(|| {
        pass.iter_mut()
            .filter_map(|p| p.list.take())
            .collect::<Vec<_>>()
    });
    if !want_sampled {
        return Ok(lists);
    }
    match sampled(&pass, &ks)? {
        (Some(per_k), skipped, (lo, hi)) => {
            if let Some(c) = &s.candidates {
                m.candidates = Some(c.stats.clone());
                if skipped > 0 {
                    m.notes.push(format!(
                        "{skipped} test pairs left out of the sampled protocol: no candidates in {} (or all were train/test items of the user)",
                        c.path.display()
                    ));
                }
                if lo != hi {
                    m.notes.push(format!(
                        "fixed candidate lists hold {lo} to {hi} negatives per test pair after dropping train and test items"
                    ));
                }
            } else if skipped > 0 {
                m.notes.push(format!(
                    "{skipped} test pairs skipped in the sampled protocol: fewer than {} unseen items",
                    s.sampled_negatives
                ));
            }
            let sampled_only = s.ranking == RankingMode::Sampled;
            if sampled_only {
                m.ranking = "sampled".into();
                m.coverage_at_k = None;
                m.notes.push(
                    "precision@K is not defined in the sampled protocol (reported as 0); with one positive per pair, Recall@K = HR@K and MAP@K = MRR@K"
                        .into(),
                );
            }
            for (&k, sm) in ks.iter().zip(&per_k) {
                let a = m.at_k.entry(k).or_default();
                a.sampled_hr = Some(sm.hr);
                a.sampled_ndcg = Some(sm.ndcg);
                if sampled_only {
                    *a = AtK {
                        hr: sm.hr,
                        ndcg: sm.ndcg,
                        precision: 0.0,
                        recall: sm.hr,
                        mrr: sm.mrr,
                        map: sm.mrr,
                        coverage: None,
                        sampled_hr: Some(sm.hr),
                        sampled_ndcg: Some(sm.ndcg),
                    };
                }
            }
            m.sampled = per_k.into_iter().next();
        }
        (None, _, _) => {
            let reason = match &s.candidates {
                Some(c) => format!(
                    "no test pair has candidates in {} (their ids match no train item left to the user)",
                    c.path.display()
                ),
                None => format!("no user has {} unseen items to sample", s.sampled_negatives),
            };
            // Asked for by name: never a silent fall-back to the full-ranking figures.
            if s.ranking == RankingMode::Sampled {
                return Err(super::EvalError::SampledImpossible { reason });
            }
            m.notes.push(format!("sampled protocol skipped: {reason}"));
        }
    }
    Ok(lists)
}

/// Eval users and their distinct positive test items (CTR: clicked rows only).
fn positives(ds: &Dataset) -> (Vec<u32>, Vec<Vec<u32>>) {
    match &ds.test.label {
        None => (ds.eval_users.clone(), ds.eval_items.clone()),
        Some(labels) => {
            let mut by_user: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            for ((&u, &i), &l) in ds.test.user.iter().zip(&ds.test.item).zip(labels) {
                if l {
                    by_user.entry(u).or_default().push(i);
                }
            }
            by_user.values_mut().for_each(|v| {
                v.sort_unstable();
                v.dedup();
            });
            by_user.into_iter().unzip()
        }
    }
}

/// Scores held per block of users in [`user_pass`] (32 users of a 250 k-item catalogue).
const BLOCK_SCORES: usize = 8 << 20;
/// Users per block at most: enough for the matrix products of factor models to be compute-bound.
const BLOCK_USERS: usize = 32;

/// Score every item once per eval user and derive what is asked: the full-ranking top `k_max`
/// (candidates are all train items minus the user's train items) and/or the sampled 1 + N draw
/// (each positive against N distinct unseen items; one RNG stream per user, so the draw does not
/// depend on the thread count). Users are scored in blocks ([`Recommender::score_items_block`]),
/// blocks run in parallel, results come in user order.
fn user_pass(
    model: &dyn Recommender,
    ds: &Dataset,
    users: &[u32],
    items: &[Vec<u32>],
    s: &EvalSettings,
    full: bool,
    want_sampled: bool,
) -> Result<Vec<UserPass>, EvalError> {
    let n = ds.n_items();
    let ks = s.cutoffs();
    let k_max = s.k_max();
    let block = (BLOCK_SCORES / n.max(1)).clamp(1, BLOCK_USERS);
    let one =
        |u: u32, test: &[u32], row: &[f32], taken: &mut [bool]| -> Result<UserPass, EvalError> {
            let seen = ds.seen(u);
            let (top, list) = if full {
                let top = metrics::top_k_excluding(row, seen, k_max)?;
                let ranks = ks
                    .iter()
                    .map(|&k| metrics::user_topk_metrics(&top[..k.min(top.len())], test, k))
                    .collect::<Result<Vec<_>, _>>()?;
                let list = RankedList {
                    user: u,
                    top: top
                        .iter()
                        .map(|&i| (i, row[i as usize], test.contains(&i)))
                        .collect(),
                    beyond: test
                        .iter()
                        .filter(|&&i| !top.contains(&i))
                        .map(|&i| (i, row[i as usize]))
                        .collect(),
                };
                (Some((ranks, top)), Some(list))
            } else {
                (None, None)
            };
            let sampled = if !want_sampled {
                SampledPass::default()
            } else if let Some(c) = &s.candidates {
                fixed_ranks(u, test, row, c)?
            } else {
                drawn_ranks(u, test, row, seen, taken, s)?
            };
            Ok(UserPass { top, list, sampled })
        };
    let blocks: Vec<Vec<UserPass>> = users
        .par_chunks(block)
        .zip(items.par_chunks(block))
        .map_init(
            || (vec![0f32; block * n], vec![false; n]),
            |(buf, taken), (us, tests)| -> Result<Vec<UserPass>, EvalError> {
                let scores = &mut buf[..us.len() * n];
                model.score_items_block(us, scores)?;
                us.iter()
                    .zip(tests)
                    .enumerate()
                    .map(|(r, (&u, test))| one(u, test, &scores[r * n..(r + 1) * n], taken))
                    .collect()
            },
        )
        .collect::<Result<_, _>>()?;
    Ok(blocks.into_iter().flatten().collect())
}

/// Full-ranking means and coverage at each cutoff, the per-user rows and the per-group hit rate
/// (at the primary cutoff), in user order, into `m`.
fn full_ranking(
    ds: &Dataset,
    users: &[u32],
    pass: &[UserPass],
    items: &[Vec<u32>],
    ks: &[usize],
    m: &mut ModelMetrics,
) -> Result<(), EvalError> {
    let mut acc: Vec<RankingAccumulator> = ks.iter().map(|&k| RankingAccumulator::new(k)).collect();
    let mut groups: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let k0 = ks[0];
    for (p, test) in pass.iter().zip(items) {
        let Some((ranks, top)) = &p.top else { continue };
        for (a, r) in acc.iter_mut().zip(ranks) {
            a.add(*r);
        }
        if let Some(g) = &ds.item_groups {
            let top0 = &top[..k0.min(top.len())];
            for &i in test {
                let e = groups.entry(g[i as usize].clone()).or_default();
                e.0 += usize::from(top0.contains(&i));
                e.1 += 1;
            }
        }
    }
    for (&k, a) in ks.iter().zip(&acc) {
        let tops = pass
            .iter()
            .filter_map(|p| p.top.as_ref())
            .map(|(_, top)| &top[..k.min(top.len())]);
        let coverage = metrics::item_coverage(tops, ds.n_items())?;
        m.at_k
            .insert(k, AtK::from_summary(&a.summary(), Some(coverage)));
    }
    m.ranking = "full".into();
    m.ranked_users = acc[0].summary().users;
    let rows = users
        .iter()
        .zip(pass)
        .filter_map(|(&u, p)| p.top.as_ref().map(|(ranks, _)| (u, ranks.clone())));
    m.per_user = PerUser::from_ranks(ks, rows);
    m.group_hit_rate = ds.item_groups.as_ref().map(|_| {
        groups
            .into_iter()
            .map(|(g, (h, n))| (g, h as f64 / n as f64))
            .collect()
    });
    Ok(())
}

/// Ranks of the user's positives against N distinct unseen items drawn at random (one RNG
/// stream per user, so the draw does not depend on the thread count); none when fewer than N
/// unseen items exist.
fn drawn_ranks(
    u: u32,
    test: &[u32],
    buf: &[f32],
    seen: &[u32],
    taken: &mut [bool],
    s: &EvalSettings,
) -> Result<SampledPass, EvalError> {
    let n = buf.len();
    let m = s.sampled_negatives;
    let unseen = n
        - seen.len()
        - test
            .iter()
            .filter(|i| seen.binary_search(i).is_err())
            .count();
    if unseen < m {
        return Ok(SampledPass {
            skipped: test.len(),
            ..Default::default()
        });
    }
    let blocked = |i: u32| seen.binary_search(&i).is_ok() || test.binary_search(&i).is_ok();
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x05A3_D1E5);
    rng.set_stream(u64::from(u));
    let mut ranks = Vec::with_capacity(test.len());
    let mut drawn = Vec::with_capacity(m);
    let mut negs = Vec::with_capacity(m);
    for &i in test {
        drawn.clear();
        while drawn.len() < m {
            let j = rng.random_range(0..n as u32);
            if !taken[j as usize] && !blocked(j) {
                taken[j as usize] = true;
                drawn.push(j);
            }
        }
        negs.clear();
        for &j in &drawn {
            taken[j as usize] = false;
            negs.push(f64::from(buf[j as usize]));
        }
        ranks.push(checked_rank(buf, i, &negs)?);
    }
    Ok(SampledPass {
        ranks,
        negatives: Some((m, m)),
        skipped: 0,
    })
}

/// Ranks of the user's positives against their fixed candidate lists (`[eval] candidates`);
/// a positive without a list, or whose list lost every candidate, is skipped.
fn fixed_ranks(
    u: u32,
    test: &[u32],
    buf: &[f32],
    c: &Candidates,
) -> Result<SampledPass, EvalError> {
    let mut out = SampledPass::default();
    let mut negs = Vec::new();
    for &i in test {
        let Some(list) = c.of(u, i).filter(|l| !l.is_empty()) else {
            out.skipped += 1;
            continue;
        };
        negs.clear();
        negs.extend(list.iter().map(|&j| f64::from(buf[j as usize])));
        out.ranks.push(checked_rank(buf, i, &negs)?);
        let (lo, hi) = out.negatives.unwrap_or((usize::MAX, 0));
        out.negatives = Some((lo.min(list.len()), hi.max(list.len())));
    }
    Ok(out)
}

/// The sampled rank of item `i` (ties count against it), rejecting non-finite scores.
fn checked_rank(buf: &[f32], i: u32, negs: &[f64]) -> Result<usize, EvalError> {
    let pos = f64::from(buf[i as usize]);
    metrics::check_scores_finite("sampled-protocol scores", &[pos])?;
    metrics::check_scores_finite("sampled-protocol scores", negs)?;
    Ok(metrics::sampled_rank(pos, negs))
}

/// The sampled-protocol metrics per cutoff (none without a ranked pair), the pairs skipped, and
/// the fewest/most negatives per pair.
type SampledOutcome = (Option<Vec<SampledMetrics>>, usize, (usize, usize));

/// The sampled-protocol metrics at each cutoff over all users' ranks, the pairs skipped and the
/// fewest/most negatives per pair.
fn sampled(pass: &[UserPass], ks: &[usize]) -> Result<SampledOutcome, EvalError> {
    let (mut ranks, mut skipped) = (Vec::new(), 0usize);
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    for p in pass {
        ranks.extend_from_slice(&p.sampled.ranks);
        skipped += p.sampled.skipped;
        if let Some((a, b)) = p.sampled.negatives {
            lo = lo.min(a);
            hi = hi.max(b);
        }
    }
    if ranks.is_empty() {
        return Ok((None, skipped, (0, 0)));
    }
    let per_k = ks
        .iter()
        .map(|&k| metrics::rank_metrics(&ranks, hi, k))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((Some(per_k), skipped, (lo, hi)))
}
