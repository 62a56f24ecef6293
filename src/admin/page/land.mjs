// Generates map-land.html, the land outlines the status page draws, from
// Natural Earth's 110m land polygons (public domain) as packaged in the npm
// package world-atlas@2.0.2 (ISC). Run it again only to change the map:
//
//   cd "$(mktemp -d)" && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
//   node /path/to/src/admin/page/land.mjs package/land-110m.json > /path/to/src/admin/page/map-land.html
//
// Output: one SVG <path> in an equirectangular projection,
// x = (lon + 180) * SCALE, y = (90 - lat) * SCALE, with integer coordinates
// (1/SCALE of a degree), simplified (Douglas-Peucker, TOLERANCE units),
// Antarctica left out (the page crops at 60°S). The page reads the scale from
// the path's data-scale attribute to place clusters with the same projection.
// No dependencies beyond Node itself.

import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";

const SCALE = 3;
const TOLERANCE = 0.45;
const SOUTH_CUTOFF = -60;

const file = process.argv[2];
if (!file) {
  console.error("usage: node land.mjs land-110m.json > map-land.html");
  process.exit(2);
}
const bytes = readFileSync(file);
const topology = JSON.parse(bytes);
const land = topology.objects && topology.objects.land;
if (topology.type !== "Topology" || !land || !topology.transform) {
  console.error(`${file}: not world-atlas's land TopoJSON (quantized, objects.land)`);
  process.exit(1);
}

// TopoJSON arcs are delta-encoded, quantized positions.
const [sx, sy] = topology.transform.scale;
const [tx, ty] = topology.transform.translate;
const arcs = topology.arcs.map((arc) => {
  let x = 0;
  let y = 0;
  return arc.map(([dx, dy]) => {
    x += dx;
    y += dy;
    return [x * sx + tx, y * sy + ty];
  });
});

// A ring is a list of arc indexes; ~i is arc i reversed. Consecutive arcs
// share their joining point.
function ring(indexes) {
  const points = [];
  for (const index of indexes) {
    const arc = index < 0 ? arcs[~index].slice().reverse() : arcs[index];
    points.push(...(points.length ? arc.slice(1) : arc));
  }
  return points;
}

// Makes longitudes continuous across the antimeridian (179 → 181, not
// -179), so a ring that crosses it stays one closed shape; it is then drawn
// twice, shifted by 360°, and the SVG viewport clips both copies.
function unwrap(points) {
  const out = [points[0].slice()];
  for (let i = 1; i < points.length; i++) {
    let [lon, lat] = points[i];
    const prev = out[i - 1][0];
    while (lon - prev > 180) lon -= 360;
    while (prev - lon > 180) lon += 360;
    out.push([lon, lat]);
  }
  return out;
}

function project([lon, lat]) {
  return [(lon + 180) * SCALE, (90 - lat) * SCALE];
}

function simplify(points, tolerance) {
  if (points.length < 3) return points;
  const keep = new Uint8Array(points.length);
  keep[0] = keep[points.length - 1] = 1;
  const stack = [[0, points.length - 1]];
  while (stack.length) {
    const [a, b] = stack.pop();
    const [ax, ay] = points[a];
    const [bx, by] = points[b];
    const dx = bx - ax;
    const dy = by - ay;
    const length = Math.hypot(dx, dy);
    let worst = -1;
    let worstDistance = 0;
    for (let i = a + 1; i < b; i++) {
      const [px, py] = points[i];
      const distance = length === 0
        ? Math.hypot(px - ax, py - ay)
        : Math.abs(dy * px - dx * py + bx * ay - by * ax) / length;
      if (distance > worstDistance) {
        worst = i;
        worstDistance = distance;
      }
    }
    if (worst >= 0 && worstDistance > tolerance) {
      keep[worst] = 1;
      stack.push([a, worst], [worst, b]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

// Relative integer path commands: "M x y l dx dy … z".
function encode(points) {
  const rounded = points.map(([x, y]) => [Math.round(x), Math.round(y)]);
  let text = `M${rounded[0][0]} ${rounded[0][1]}l`;
  let [px, py] = rounded[0];
  let count = 0;
  for (const [x, y] of rounded.slice(1)) {
    if (x === px && y === py) continue;
    text += `${count ? (x - px < 0 ? "" : " ") : ""}${x - px}${y - py < 0 ? "" : " "}${y - py}`;
    [px, py] = [x, y];
    count++;
  }
  return count >= 2 ? text + "z" : "";
}

const polygons = land.geometries.flatMap((g) =>
  g.type === "MultiPolygon" ? g.arcs : g.type === "Polygon" ? [g.arcs] : []
);
let path = "";
let rings = 0;
for (const polygon of polygons) {
  for (const indexes of polygon) {
    const points = unwrap(ring(indexes));
    if (Math.max(...points.map((p) => p[1])) < SOUTH_CUTOFF) continue;
    const [first, last] = [points[0], points[points.length - 1]];
    if (Math.abs(first[0] - last[0]) > 1e-6) {
      console.error(`a ring around a pole north of ${SOUTH_CUTOFF}° cannot be drawn this way`);
      process.exit(1);
    }
    const lons = points.map((p) => p[0]);
    const shifts = [0];
    if (Math.max(...lons) > 180) shifts.push(-360);
    if (Math.min(...lons) < -180) shifts.push(360);
    for (const shift of shifts) {
      const projected = points.map(([lon, lat]) => project([lon + shift, lat]));
      const d = encode(simplify(projected, TOLERANCE));
      if (d) {
        path += d;
        rings++;
      }
    }
  }
}

const sha256 = createHash("sha256").update(bytes).digest("hex");
process.stdout.write(
  `<!-- Generated by land.mjs: Natural Earth 110m land (public domain) from world-atlas@2.0.2` +
    ` land-110m.json, sha256 ${sha256}; ${rings} rings. Do not edit. -->\n` +
    `<path class="land" data-scale="${SCALE}" d="${path}"/>\n`
);
