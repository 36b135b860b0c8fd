//! Bar charts drawn on the server as SVG geometry: the template writes the `<rect>`s. No
//! script, no library, readable by a screen reader through each bar's title and the table
//! beside it.

/// A titled chart as `chart.html` draws it.
pub struct Chart {
    pub title: String,
    /// Where the title leads: the page with the figures behind the chart.
    pub href: Option<String>,
    pub bars: Vec<Bar>,
    pub height: u32,
    pub empty: bool,
}

/// One bar, in the chart's own units (the template's viewBox is 0 0 WIDTH height).
pub struct Bar {
    pub label: String,
    pub value_text: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub href: Option<String>,
}

pub const WIDTH: u32 = 600;
const LABEL_SPACE: u32 = 150;
const ROW: u32 = 28;
const BAR: u32 = 18;

/// Horizontal bars, one row each, scaled to the largest value.
pub fn horizontal(items: Vec<(String, f64, String, Option<String>)>) -> (Vec<Bar>, u32) {
    let max = items.iter().map(|i| i.1).fold(0.0_f64, f64::max);
    let span = f64::from(WIDTH - LABEL_SPACE - 100);
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, value, value_text, href))| {
            let w = if max > 0.0 {
                (value / max * span).round()
            } else {
                0.0
            };
            Bar {
                label,
                value_text,
                x: LABEL_SPACE,
                y: ROW * i as u32 + (ROW - BAR) / 2,
                // at least a sliver, so a small non-zero value is visible
                width: if value > 0.0 { (w as u32).max(2) } else { 0 },
                height: BAR,
                href,
            }
        })
        .collect::<Vec<_>>();
    let height = ROW * bars.len().max(1) as u32;
    (bars, height)
}

/// Vertical bars (a time series), scaled to the largest value.
pub fn vertical(items: Vec<(String, f64, String)>, height: u32) -> Vec<Bar> {
    let max = items.iter().map(|i| i.1).fold(0.0_f64, f64::max);
    let n = items.len().max(1) as u32;
    let slot = WIDTH / n;
    let plot = f64::from(height - 40);
    items
        .into_iter()
        .enumerate()
        .map(|(i, (label, value, value_text))| {
            let h = if max > 0.0 {
                (value / max * plot).round() as u32
            } else {
                0
            };
            Bar {
                label,
                value_text,
                x: slot * i as u32 + slot / 6,
                y: height - 20 - h,
                width: slot * 2 / 3,
                height: h,
                href: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_bar_fills_the_span_and_zero_draws_nothing() {
        let (bars, height) = horizontal(vec![
            ("a".into(), 10.0, "10".into(), None),
            ("b".into(), 5.0, "5".into(), None),
            ("c".into(), 0.0, "0".into(), None),
        ]);
        assert_eq!(height, 3 * ROW);
        assert_eq!(bars[0].width, WIDTH - LABEL_SPACE - 100);
        assert_eq!(bars[1].width * 2, bars[0].width);
        assert_eq!(bars[2].width, 0);
        let v = vertical(
            vec![
                ("w1".into(), 4.0, "4".into()),
                ("w2".into(), 2.0, "2".into()),
            ],
            200,
        );
        assert_eq!(v[0].height, 160);
        assert_eq!(v[1].y, 200 - 20 - 80);
    }
}
