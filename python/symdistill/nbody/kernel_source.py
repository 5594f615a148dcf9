'''Source of the generic N-body kernels, specialised per set of potentials by ``codegen``.

``KERNELS`` is appended to two generated functions of a law index and the softened
distance ``r`` and masses and charges of two bodies: ``pair_energy(law, r, m1, m2, q1, q2)``
(the pair potential U of law ``law``) and ``pair_radial_force(law, r, m1, m2, q1, q2)``
(``-dU/dr``). The force on body i from body j is
``pair_radial_force(law, |xi - xj| + softening, ...) * (xi - xj) / |xi - xj|``, and zero
when the two positions coincide. Every body i also feels the damping force
``-gamma[i] * v_i``.

The integrator is Dormand and Prince's embedded Runge-Kutta 5(4) pair with local
extrapolation, the first-same-as-last property and Shampine's 4th-order continuous
extension for output times (Hairer, Norsett and Wanner, Solving Ordinary Differential
Equations I, sections II.4 to II.6). The error of a step is the root mean square of
``err / (atol + rtol * max(|y_old|, |y_new|))``. A step is accepted when that is at
most 1, and the next step is scaled by ``clip(0.9 * error ** (-1/5), 0.2, 10)``.
Output times do not limit the step size: states between steps come from the
continuous extension.

The generated module also defines ``DIM``, the spatial dimension, so the loops over
coordinates have a fixed trip count. Kernel signatures (float64 C-contiguous arrays;
S simulations, T output times, N bodies, D = DIM, F = 2*D + 2 state columns):

- ``integrate(law, states0[S, N, F], gamma[N], softening, t_out[T], rtol, atol,
  max_steps, out[S, T, N, F], acc_out[S, T, N, D], status[S], n_steps[S])``, serial and without the GIL,
  so threads can run it on disjoint slices of simulations.
- ``accelerations(law, states[M, N, F], gamma[N], softening, out[M, N, D])``.
- ``pair_force(law, receiver[E, F], sender[E, F], softening, out[E, D])``.
- ``pair_potential(law, receiver[E, F], sender[E, F], softening, out[E])``.

Status codes of ``integrate``: 0 finished, 1 ``max_steps`` attempts between two output
times were not enough, 2 the step size fell below the floating-point resolution of the
time, 3 the derivative became non-finite. States and accelerations at output times
not reached are NaN.
``n_steps`` counts step attempts, accepted or rejected.
'''

KERNELS = r'''
# Dormand-Prince 5(4) tableau: stage i evaluates the derivative at
# y + h * sum_j A[i, j] * k_j. Row 7 contains the 5th-order weights, so the 7th stage is
# the derivative at the new state.
A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0],
    [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0],
    [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
])
# Differences between the 5th- and 4th-order weights, which estimate the local error.
E = np.array([
    71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0
])
# Shampine's continuous extension: the weight of stage i at fraction theta of a step is
# theta * (P[i, 0] + theta * (P[i, 1] + theta * (P[i, 2] + theta * P[i, 3]))).
P = np.array([
    [1.0, -8048581381.0 / 2820520608.0, 8663915743.0 / 2820520608.0, -12715105075.0 / 11282082432.0],
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 131558114200.0 / 32700410799.0, -68118460800.0 / 10900136933.0, 87487479700.0 / 32700410799.0],
    [0.0, -1754552775.0 / 470086768.0, 14199869525.0 / 1410260304.0, -10690763975.0 / 1880347072.0],
    [0.0, 127303824393.0 / 49829197408.0, -318862633887.0 / 49829197408.0, 701980252875.0 / 199316789632.0],
    [0.0, -282668133.0 / 205662961.0, 2019193451.0 / 616988883.0, -1453857185.0 / 822651844.0],
    [0.0, 40617522.0 / 29380423.0, -110615467.0 / 29380423.0, 69997945.0 / 29380423.0],
])
SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
EPSILON = 2.220446049250313e-16  # float64 machine epsilon


@njit(cache=True)
def _derivative(law, y, q, m, gamma, softening, n, dy):
    # y and dy are flat: positions (n*DIM values, body-major), then velocities.
    half = n * DIM
    for k in range(half):
        dy[k] = y[half + k]
    # Sum the forces in the velocity part of dy, then divide by the masses once.
    for i in range(n):
        for d in range(DIM):
            dy[half + i * DIM + d] = -gamma[i] * y[half + i * DIM + d]
    for i in range(n):
        for j in range(i + 1, n):
            dist2 = 0.0
            for d in range(DIM):
                dx = y[i * DIM + d] - y[j * DIM + d]
                dist2 += dx * dx
            if dist2 == 0.0:
                continue
            dist = math.sqrt(dist2)
            scale = pair_radial_force(law, dist + softening, m[i], m[j], q[i], q[j]) / dist
            for d in range(DIM):
                force = scale * (y[i * DIM + d] - y[j * DIM + d])
                dy[half + i * DIM + d] += force
                dy[half + j * DIM + d] -= force
    for i in range(n):
        inverse_mass = 1.0 / m[i]
        for d in range(DIM):
            dy[half + i * DIM + d] *= inverse_mass


@njit(cache=True)
def _all_finite(values):
    for value in values:
        if not math.isfinite(value):
            return False
    return True


@njit(cache=True)
def _rms_scaled(values, y, rtol, atol):
    total = 0.0
    for k in range(values.shape[0]):
        ratio = values[k] / (atol + rtol * abs(y[k]))
        total += ratio * ratio
    return math.sqrt(total / values.shape[0])


@njit(cache=True)
def _initial_step(law, y, f0, q, m, gamma, softening, n, rtol, atol, order, y1, f1):
    # Starting step from Hairer, Norsett and Wanner, section II.4.
    d0 = _rms_scaled(y, y, rtol, atol)
    d1 = _rms_scaled(f0, y, rtol, atol)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    for k in range(y.shape[0]):
        y1[k] = y[k] + h0 * f0[k]
    _derivative(law, y1, q, m, gamma, softening, n, f1)
    for k in range(y.shape[0]):
        f1[k] -= f0[k]
    d2 = _rms_scaled(f1, y, rtol, atol) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    if not math.isfinite(h1):  # the derivative overflowed at y1
        return h0
    return min(100.0 * h0, h1)


@njit(cache=True)
def _write_output(law, y, q, m, gamma, softening, n, state_row, acc_row, dy):
    # Store the state [position, velocity, charge, mass] and the accelerations at y.
    half = n * DIM
    _derivative(law, y, q, m, gamma, softening, n, dy)
    for i in range(n):
        for d in range(DIM):
            state_row[i, d] = y[i * DIM + d]
            state_row[i, DIM + d] = y[half + i * DIM + d]
            acc_row[i, d] = dy[half + i * DIM + d]
        state_row[i, 2 * DIM] = q[i]
        state_row[i, 2 * DIM + 1] = m[i]


@njit(cache=True)
def _interpolate(y, h, theta, k, out):
    # Shampine's continuous extension at time t + theta * h.
    for c in range(y.shape[0]):
        out[c] = y[c]
    for i in range(7):
        weight = h * theta * (P[i, 0] + theta * (P[i, 1] + theta * (P[i, 2] + theta * P[i, 3])))
        if weight != 0.0:
            for c in range(y.shape[0]):
                out[c] += weight * k[i, c]


@njit(cache=True)
def _integrate_one(law, state0, gamma, softening, t_out, rtol, atol, max_steps, out, acc_out):
    n = state0.shape[0]
    size = 2 * n * DIM
    q = state0[:, 2 * DIM].copy()
    m = state0[:, 2 * DIM + 1].copy()
    y = np.empty(size)
    y_stage = np.empty(size)
    buffer = np.empty(size)
    dy = np.empty(size)
    k = np.empty((7, size))  # stage derivatives; k[6] is the derivative at the new state
    for i in range(n):
        for d in range(DIM):
            y[i * DIM + d] = state0[i, d]
            y[n * DIM + i * DIM + d] = state0[i, DIM + d]

    n_times = t_out.shape[0]
    _write_output(law, y, q, m, gamma, softening, n, out[0], acc_out[0], k[0])
    if not _all_finite(k[0]):
        out[1:, :, :] = np.nan
        acc_out[1:, :, :] = np.nan
        return 3, 0
    t = t_out[0]
    t_end = t_out[n_times - 1]
    h = _initial_step(law, y, k[0], q, m, gamma, softening, n, rtol, atol, 4, y_stage, k[1])
    next_out = 1
    attempts = 0
    total_steps = 0
    status = 0
    while next_out < n_times:
        if attempts >= max_steps:
            status = 1
            break
        attempts += 1
        total_steps += 1
        reaches_end = t + h >= t_end
        if reaches_end:
            h = t_end - t

        # Stages 2 to 7; stage 7 is evaluated at the 5th-order solution (first same as last).
        for i in range(1, 7):
            for c in range(size):
                y_stage[c] = y[c]
            for j in range(i):
                weight = h * A[i, j]
                if weight != 0.0:
                    for c in range(size):
                        y_stage[c] += weight * k[j, c]
            _derivative(law, y_stage, q, m, gamma, softening, n, k[i])

        total = 0.0
        for c in range(size):
            err = 0.0
            for i in range(7):
                err += E[i] * k[i, c]
            ratio = h * err / (atol + rtol * max(abs(y[c]), abs(y_stage[c])))
            total += ratio * ratio
        error = math.sqrt(total / size)

        if error <= 1.0:
            t_new = t_end if reaches_end else t + h
            while next_out < n_times and t_out[next_out] <= t_new:
                theta = (t_out[next_out] - t) / h
                _interpolate(y, h, theta, k, buffer)
                _write_output(law, buffer, q, m, gamma, softening, n, out[next_out], acc_out[next_out], dy)
                next_out += 1
                attempts = 0
            t = t_new
            for c in range(size):
                y[c] = y_stage[c]
                k[0, c] = k[6, c]
            factor = MAX_FACTOR if error == 0.0 else min(MAX_FACTOR, SAFETY * error ** -0.2)
            h *= factor
        elif math.isfinite(error):
            h *= max(MIN_FACTOR, SAFETY * error ** -0.2)
        else:
            h *= MIN_FACTOR
        if not h > 4.0 * EPSILON * max(abs(t), 1.0):  # also true for a NaN step
            status = 3 if not (_all_finite(y_stage) and _all_finite(k[6])) else 2
            break

    for i in range(next_out, n_times):
        out[i, :, :] = np.nan
        acc_out[i, :, :] = np.nan
    return status, total_steps


@njit(cache=True, nogil=True)
def integrate(law, states0, gamma, softening, t_out, rtol, atol, max_steps, out, acc_out, status, n_steps):
    for s in range(states0.shape[0]):
        code, steps = _integrate_one(
            law, states0[s], gamma, softening, t_out, rtol, atol, max_steps, out[s], acc_out[s]
        )
        status[s] = code
        n_steps[s] = steps


@njit(cache=True)
def accelerations(law, states, gamma, softening, out):
    n = states.shape[1]
    size = 2 * n * DIM
    y = np.empty(size)
    dy = np.empty(size)
    for s in range(states.shape[0]):
        for i in range(n):
            for d in range(DIM):
                y[i * DIM + d] = states[s, i, d]
                y[n * DIM + i * DIM + d] = states[s, i, DIM + d]
        _derivative(law, y, states[s, :, 2 * DIM], states[s, :, 2 * DIM + 1], gamma, softening, n, dy)
        for i in range(n):
            for d in range(DIM):
                out[s, i, d] = dy[n * DIM + i * DIM + d]


@njit(cache=True)
def _edge_distance(receiver, sender, e):
    dist2 = 0.0
    for d in range(DIM):
        dx = receiver[e, d] - sender[e, d]
        dist2 += dx * dx
    return math.sqrt(dist2)


@njit(cache=True)
def pair_force(law, receiver, sender, softening, out):
    q, m = 2 * DIM, 2 * DIM + 1
    for e in range(receiver.shape[0]):
        dist = _edge_distance(receiver, sender, e)
        scale = 0.0
        if dist > 0.0:
            radial = pair_radial_force(law, dist + softening, receiver[e, m], sender[e, m], receiver[e, q], sender[e, q])
            scale = radial / dist
        for d in range(DIM):
            out[e, d] = scale * (receiver[e, d] - sender[e, d])


@njit(cache=True)
def pair_potential(law, receiver, sender, softening, out):
    q, m = 2 * DIM, 2 * DIM + 1
    for e in range(receiver.shape[0]):
        dist = _edge_distance(receiver, sender, e)
        out[e] = pair_energy(law, dist + softening, receiver[e, m], sender[e, m], receiver[e, q], sender[e, q])
'''
