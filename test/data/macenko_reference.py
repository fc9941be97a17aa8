"""Macenko et al. (ISBI 2009) stain normalisation in NumPy, as the paper describes it: an
independent implementation that test/data/stain.test.ts checks src/data/stain.ts against.

It reads a JSON list of jobs on standard input, each {"rgb": "<file of packed 8-bit RGB>",
"pixels": n, "out": "<file for the normalised bytes>"}, and prints a JSON list of results: the
fitted stain matrix (rows R, G, B; columns haematoxylin, eosin), the 99th percentiles of the two
concentrations, or null where fewer than 1% of the pixels are stained (then "out" gets the input).

Conventions both implementations share, where the paper leaves a choice open:
- optical density is -ln((I + 1) / Io); a pixel is stained when its OD is at least beta in every
  channel; the covariance's eigenvectors come from LAPACK here (numpy.linalg.eigh) and from Jacobi
  rotations there, each oriented to a positive component sum;
- percentiles interpolate linearly (NumPy's default); concentrations are the least-squares solution
  (numpy.linalg.lstsq); the normalised image is rounded to the nearest byte and clipped to 0-255.
Run with Debian's python3 and python3-numpy.
"""
import json
import sys

import numpy as np

IO, ALPHA, BETA = 240.0, 1.0, 0.15
HE_REF = np.array([[0.5626, 0.2159], [0.7201, 0.8012], [0.4062, 0.5581]])
MAX_C_REF = np.array([1.9705, 1.0308])


def fit(rgb):
    od = -np.log((rgb.astype(np.float64) + 1.0) / IO)
    stained = od[np.all(od >= BETA, axis=1)]
    if len(stained) < 0.01 * len(od) or len(stained) < 3:
        return None
    _, vectors = np.linalg.eigh(np.cov(stained.T))
    plane = vectors[:, 1:3]
    plane = plane * np.where(plane.sum(axis=0) < 0, -1.0, 1.0)
    projected = stained @ plane
    phi = np.arctan2(projected[:, 1], projected[:, 0])
    lo, hi = np.percentile(phi, ALPHA), np.percentile(phi, 100 - ALPHA)
    v_min = plane @ np.array([np.cos(lo), np.sin(lo)])
    v_max = plane @ np.array([np.cos(hi), np.sin(hi)])
    he = np.array([v_min, v_max]).T if v_min[0] > v_max[0] else np.array([v_max, v_min]).T
    concentrations = np.linalg.lstsq(he, od.T, rcond=None)[0]
    max_c = np.array([np.percentile(concentrations[0], 99), np.percentile(concentrations[1], 99)])
    return he, max_c, concentrations


def main():
    results = []
    for job in json.load(sys.stdin):
        rgb = np.fromfile(job["rgb"], dtype=np.uint8).reshape(-1, 3)
        fitted = fit(rgb)
        if fitted is None:
            rgb.tofile(job["out"])
            results.append(None)
            continue
        he, max_c, concentrations = fitted
        scaled = concentrations * (MAX_C_REF / max_c)[:, None]
        normalised = IO * np.exp(-HE_REF @ scaled)
        np.clip(np.rint(normalised.T), 0, 255).astype(np.uint8).tofile(job["out"])
        results.append({"stains": he.tolist(), "maxConcentrations": max_c.tolist()})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
