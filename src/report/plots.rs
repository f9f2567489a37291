//! SVG plots of a run: ROC curves, training curves, the per-user hit distribution and the
//! per-group hit rate.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use crate::eval::ModelMetrics;
use crate::report::Curve;

type PlotResult = Result<(), String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 5] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
    ];
    C[i % C.len()]
}

/// Axis labels only at whole numbers (epochs, hit counts).
fn integer_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        String::new()
    }
}

/// ROC curves of every model that has one (CTR logs), with the diagonal.
/// The points of a monotone curve thinned to screen resolution: a point is kept when it is
/// `step` or more away (in either coordinate) from the last kept one; the last point always
/// stays. A 2 M-row test part has about that many ROC points, which made a 29 MB SVG.
fn thin(points: impl Iterator<Item = (f64, f64)>, step: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut last = None;
    for p in points {
        match out.last() {
            Some(&(x, y)) if (p.0 - x).abs() < step && (p.1 - y).abs() < step => last = Some(p),
            _ => {
                out.push(p);
                last = None;
            }
        }
    }
    out.extend(last);
    out
}

pub fn roc(path: &Path, models: &BTreeMap<String, ModelMetrics>) -> PlotResult {
    let root = SVGBackend::new(path, (640, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("ROC on the held-out part", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("false positive rate")
        .y_desc("true positive rate")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            BLACK.mix(0.3),
        ))
        .map_err(err)?;
    for (i, (name, m)) in models.iter().enumerate() {
        let Some(c) = &m.roc else { continue };
        let col = color(i);
        let label = format!("{name} (AUC {:.3})", m.auc.unwrap_or(f64::NAN));
        chart
            .draw_series(LineSeries::new(
                thin(
                    c.fpr.iter().copied().zip(c.tpr.iter().copied()),
                    1.0 / 2000.0,
                ),
                col.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
        if let (Some(f), Some(t)) = (m.fpr, m.tpr) {
            chart
                .draw_series(std::iter::once(Circle::new((f, t), 5, col.filled())))
                .map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Training loss per epoch/iteration of each model that reports one.
pub fn loss(path: &Path, curves: &BTreeMap<String, Curve>) -> PlotResult {
    let max_len = curves
        .values()
        .map(|c| c.loss.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let (lo, hi) = curves
        .values()
        .flat_map(|c| c.loss.iter().copied())
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (0.0, 1.0_f64.max(hi))
    };
    // Validation AUC per epoch (NCF with a validation part) on a second axis, dashed.
    let aucs: Vec<f64> = curves
        .values()
        .flat_map(|c| c.valid_auc.iter().flatten().copied())
        .filter(|v| v.is_finite())
        .collect();
    let any_auc = !aucs.is_empty();
    let (alo, ahi) = aucs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (alo, ahi) = if alo < ahi { (alo, ahi) } else { (0.0, 1.0) };
    let root = SVGBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            if any_auc {
                "training loss and validation AUC"
            } else {
                "training loss"
            },
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .right_y_label_area_size(if any_auc { 60 } else { 0 })
        .build_cartesian_2d(1f64..max_len as f64, lo..hi + (hi - lo) * 0.05)
        .map_err(err)?
        .set_secondary_coord(1f64..max_len as f64, alo..ahi + (ahi - alo) * 0.05);
    chart
        .configure_mesh()
        .x_label_formatter(&integer_label)
        .x_desc("epoch / iteration")
        .y_desc("loss")
        .draw()
        .map_err(err)?;
    if any_auc {
        chart
            .configure_secondary_axes()
            .y_desc("validation AUC (dashed)")
            .draw()
            .map_err(err)?;
    }
    for (i, (name, c)) in curves.iter().enumerate() {
        let col = color(i);
        chart
            .draw_series(LineSeries::new(
                c.loss.iter().enumerate().map(|(e, &l)| ((e + 1) as f64, l)),
                col.stroke_width(2),
            ))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
        let points: Vec<(f64, f64)> = c
            .valid_auc
            .iter()
            .enumerate()
            .filter_map(|(e, a)| a.filter(|a| a.is_finite()).map(|a| ((e + 1) as f64, a)))
            .collect();
        if !points.is_empty() {
            chart
                .draw_secondary_series(DashedLineSeries::new(
                    points.iter().copied(),
                    6,
                    4,
                    col.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("{name} validation AUC"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 8, y)], col.stroke_width(2))
                });
            chart
                .draw_secondary_series(points.iter().map(|&p| Circle::new(p, 3, col.filled())))
                .map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Distribution of hits in the top K per ranked user (0..=K, the share of users with each
/// count), one bar group per model. Under the impressions protocol a hit is a clicked row.
pub fn hit_rate(path: &Path, models: &BTreeMap<String, ModelMetrics>, k: usize) -> PlotResult {
    let series: Vec<(&str, Vec<f64>)> = models
        .iter()
        .map(|(name, m)| {
            (
                name.as_str(),
                hit_distribution(m.per_user.hits_at_first_k(), k),
            )
        })
        .collect();
    let labels: Vec<String> = (0..=k).map(|h| h.to_string()).collect();
    let caption = format!("hits in the top {k} per user");
    grouped_bars(
        path,
        &caption,
        &labels,
        "hits in the top K",
        "share of users",
        &series,
    )
}

/// Share of users with 0, 1, ..., k hits (counts above k, impossible, land in k).
pub fn hit_distribution(hits: impl Iterator<Item = usize>, k: usize) -> Vec<f64> {
    let mut counts = vec![0usize; k + 1];
    let mut total = 0usize;
    for h in hits {
        counts[h.min(k)] += 1;
        total += 1;
    }
    counts
        .iter()
        .map(|&c| c as f64 / total.max(1) as f64)
        .collect()
}

/// Per-group hit rate (share of each group's test items reaching the top K), per model.
pub fn group_hit_rate(path: &Path, models: &BTreeMap<String, ModelMetrics>) -> PlotResult {
    let groups: Vec<String> = models
        .values()
        .filter_map(|m| m.group_hit_rate.as_ref())
        .flat_map(|g| g.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let series: Vec<(&str, Vec<f64>)> = models
        .iter()
        .filter_map(|(name, m)| {
            let g = m.group_hit_rate.as_ref()?;
            Some((
                name.as_str(),
                groups
                    .iter()
                    .map(|k| g.get(k).copied().unwrap_or(0.0))
                    .collect(),
            ))
        })
        .collect();
    let caption = "hit rate per item group";
    grouped_bars(
        path,
        caption,
        &groups,
        "item group",
        "share of test items in the top K",
        &series,
    )
}

/// Bars in [0, 1], one group per x label, one bar per series (model) in each group.
fn grouped_bars(
    path: &Path,
    caption: &str,
    labels: &[String],
    x_desc: &str,
    y_desc: &str,
    series: &[(&str, Vec<f64>)],
) -> PlotResult {
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5f64..labels.len() as f64 - 0.5, 0f64..1f64)
        .map_err(err)?;
    let at_whole = |x: &f64| {
        let near = (x - x.round()).abs() < 1e-9;
        near.then(|| labels.get(x.round() as usize).cloned())
            .flatten()
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .x_labels(2 * labels.len() + 1)
        .x_label_formatter(&at_whole)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    let w = 0.8 / series.len().max(1) as f64;
    for (i, (name, values)) in series.iter().enumerate() {
        let col = color(i);
        chart
            .draw_series(values.iter().enumerate().map(|(j, &v)| {
                let x0 = j as f64 - 0.4 + i as f64 * w;
                Rectangle::new([(x0, 0.0), (x0 + w, v)], col.filled())
            }))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], col.filled()));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::hit_distribution;

    /// Hits [0, 2, 2, 1, 0] at k = 3 -> shares of 0, 1, 2, 3 hits: 2/5, 1/5, 2/5, 0.
    #[test]
    fn hit_distribution_spans_zero_to_k() {
        let d = hit_distribution([0, 2, 2, 1, 0].into_iter(), 3);
        assert_eq!(d, vec![0.4, 0.2, 0.4, 0.0]);
        assert_eq!(hit_distribution(std::iter::empty(), 2), vec![0.0; 3]);
    }
}
