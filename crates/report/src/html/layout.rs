//! Where each group (a namespace, or the addresses outside the cluster) and each node
//! sits on the page. The layout is computed here, once, in linear time: nodes in a
//! grid inside their group's box, boxes packed in shelves. It is deterministic (the
//! same graph gives the same coordinates) and needs no layout library in the page.

/// Width and height of one node's cell.
pub const CELL: (u32, u32) = (180, 30);
/// Space between a box's edge and its cells, and between boxes.
const PAD: u32 = 12;
/// Height of a box's title bar.
const HEADER: u32 = 30;
/// Boxes narrower than this get this width, so that their title fits.
const MIN_BOX_WIDTH: u32 = 2 * CELL.0 + 2 * PAD;

/// A group's box and its members' positions (top-left corners of their cells).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub nodes: Vec<(u32, u32)>,
}

/// Columns of a group's grid: the box comes out roughly square (and a small group
/// fills the two columns its title needs).
fn columns(n: usize) -> u32 {
    let (w, h) = (CELL.0 as f64, CELL.1 as f64);
    ((n as f64 * h / w).sqrt().ceil() as u32)
        .max(n.min(2) as u32)
        .max(1)
}

/// Lays out groups of the given sizes, in the given order of importance.
pub fn layout(sizes: &[usize]) -> Vec<Placed> {
    let boxes: Vec<(u32, u32, u32)> = sizes
        .iter()
        .map(|&n| {
            let cols = columns(n);
            let rows = (n as u32).div_ceil(cols).max(1);
            let width = (cols * CELL.0 + 2 * PAD).max(MIN_BOX_WIDTH);
            (cols, width, HEADER + rows * CELL.1 + PAD)
        })
        .collect();
    // Shelves about three times as wide as the whole is tall, as a graph pane is (or as wide as the
    // widest box), tallest boxes first so that each shelf wastes little height; ties
    // keep the given order.
    let area: f64 = boxes
        .iter()
        .map(|&(_, w, h)| f64::from(w + PAD) * f64::from(h + PAD))
        .sum();
    let widest = boxes.iter().map(|b| b.1).max().unwrap_or(0);
    let shelf_width = (area * 3.0).sqrt().ceil().max(f64::from(widest)) as u32;
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(boxes[i].2));
    let mut placed = vec![None; boxes.len()];
    let (mut x, mut y, mut shelf_height) = (0u32, 0u32, 0u32);
    for i in order {
        let (cols, width, height) = boxes[i];
        if x > 0 && x + width > shelf_width {
            x = 0;
            y += shelf_height + PAD;
            shelf_height = 0;
        }
        let nodes = (0..sizes[i] as u32)
            .map(|k| {
                (
                    x + PAD + (k % cols) * CELL.0,
                    y + HEADER + (k / cols) * CELL.1,
                )
            })
            .collect();
        placed[i] = Some(Placed {
            x,
            y,
            width,
            height,
            nodes,
        });
        x += width + PAD;
        shelf_height = shelf_height.max(height);
    }
    placed.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlaps(a: (u32, u32, u32, u32), b: (u32, u32, u32, u32)) -> bool {
        a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
    }

    #[test]
    fn boxes_never_overlap_and_hold_their_nodes() {
        let sizes = [1, 40, 3, 0, 250, 7, 7, 1000, 2];
        let placed = layout(&sizes);
        assert_eq!(placed.len(), sizes.len());
        for (i, p) in placed.iter().enumerate() {
            assert_eq!(p.nodes.len(), sizes[i]);
            for &(x, y) in &p.nodes {
                // Each cell lies inside its box, below the title bar.
                assert!(x >= p.x && x + CELL.0 <= p.x + p.width, "group {i}");
                assert!(
                    y >= p.y + HEADER && y + CELL.1 <= p.y + p.height,
                    "group {i}"
                );
            }
            let mut cells = p.nodes.clone();
            cells.sort();
            cells.dedup();
            assert_eq!(
                cells.len(),
                p.nodes.len(),
                "two nodes share a cell in group {i}"
            );
            for (j, q) in placed.iter().enumerate().skip(i + 1) {
                let a = (p.x, p.y, p.width, p.height);
                let b = (q.x, q.y, q.width, q.height);
                assert!(!overlaps(a, b), "groups {i} and {j} overlap: {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn a_large_group_is_roughly_square() {
        let p = &layout(&[10_000])[0];
        let ratio = f64::from(p.width) / f64::from(p.height);
        assert!((0.7..1.4).contains(&ratio), "{} x {}", p.width, p.height);
    }

    #[test]
    fn many_groups_make_a_landscape_page() {
        let placed = layout(&[5; 60]);
        let width = placed.iter().map(|p| p.x + p.width).max().unwrap();
        let height = placed.iter().map(|p| p.y + p.height).max().unwrap();
        let ratio = f64::from(width) / f64::from(height);
        assert!((1.5..5.0).contains(&ratio), "{width} x {height}");
    }
}
