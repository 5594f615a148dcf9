"""
    SymDistillSR

symdistill's glue around SymbolicRegression.jl (v2): the conditional operator `IF`, the
graph-aggregated loss for distilling graph-network edge functions, and a search entry
point that returns the hall of fame as plain tuples for Python.

The Python side (`symdistill.sr.backends.julia`) includes this file into `Main`, builds
an `Options(...)` expression from the estimator's options and calls
[`search_hall_of_fame`](@ref).
"""
module SymDistillSR

using SymbolicRegression
using SymbolicRegression: AbstractExpressionNode, Dataset, eval_tree_array, compute_complexity, string_tree
import DynamicExpressions

export IF, graph_loss, graph_extra, search_hall_of_fame

"""
    IF(a, b, c)

`b` where `a > 0`, otherwise `c`. symdistill exports it to sympy as
`Piecewise((b, a > 0), (c, True))`.
"""
IF(a, b, c) = a > zero(a) ? b : c

# Equation strings name the operator `IF`, whatever module defines it.
DynamicExpressions.get_op_name(::typeof(IF)) = "IF"

const LOSS_L2 = 1
const LOSS_L1 = 2
const LOSS_HUBER = 3

"""
    graph_extra(receivers, node_targets, node_divisor, node_weights, loss_kind, huber_delta)

Build the `extra` payload of [`graph_loss`](@ref). `receivers` are 0-based node indices
(one per edge row, as NumPy stores them); they are shifted to Julia's 1-based indexing
here. `loss_kind` is 1 (L2), 2 (L1) or 3 (Huber with `huber_delta`).
"""
function graph_extra(receivers, node_targets, node_divisor, node_weights, loss_kind::Integer, huber_delta::Real)
    r = Vector{Int}(receivers) .+ 1
    targets = Vector{Float64}(node_targets)
    divisor = Vector{Float64}(node_divisor)
    weights = Vector{Float64}(node_weights)
    n = length(targets)
    all(1 .<= r .<= n) || throw(ArgumentError("receivers must lie in 0:$(n - 1)"))
    length(divisor) == n || throw(ArgumentError("node_divisor has $(length(divisor)) entries, expected $n"))
    length(weights) == n || throw(ArgumentError("node_weights has $(length(weights)) entries, expected $n"))
    loss_kind in (LOSS_L2, LOSS_L1, LOSS_HUBER) || throw(ArgumentError("loss_kind must be 1, 2 or 3, got $loss_kind"))
    return (; receivers=r, node_targets=targets, node_divisor=divisor, node_weights=weights,
        loss_kind=Int(loss_kind), huber_delta=Float64(huber_delta))
end

@inline function _element_loss(d, kind::Int, delta::Float64)
    if kind == LOSS_L2
        return d * d
    elseif kind == LOSS_L1
        return abs(d)
    else
        a = abs(d)
        return a <= delta ? a * a / 2 : delta * (a - delta / 2)
    end
end

"""
    graph_loss(tree, dataset, options)

Graph-aggregated loss: evaluate the candidate on every edge row of `dataset.X`, sum the
values over the incoming edges of each receiver node, divide by `node_divisor` and
compare with `node_targets` under the elementwise loss in `dataset.extra`
(weighted mean over nodes). An evaluation that produced a NaN or Inf gives `Inf`.
Batching must be off, because a random subset of edges breaks the per-node sums.
"""
function graph_loss(tree::AbstractExpressionNode, dataset::Dataset{T,L}, options)::L where {T,L}
    edge_values, complete = eval_tree_array(tree, dataset.X, options)
    complete || return L(Inf)
    g = dataset.extra
    node_values = zeros(Float64, length(g.node_targets))
    @inbounds for i in eachindex(g.receivers)
        node_values[g.receivers[i]] += edge_values[i]
    end
    total = 0.0
    weight_sum = 0.0
    @inbounds for n in eachindex(node_values)
        d = node_values[n] / g.node_divisor[n] - g.node_targets[n]
        total += g.node_weights[n] * _element_loss(d, g.loss_kind, g.huber_delta)
        weight_sum += g.node_weights[n]
    end
    loss = total / weight_sum
    return isfinite(loss) ? L(loss) : L(Inf)
end

"""
    search_hall_of_fame(X, y; options, niterations, weights=nothing, parallelism=:serial, extra=NamedTuple())

Run `equation_search` on `X` (features × rows) and `y`, and return one
`(complexity, loss, equation)` tuple per complexity in the hall of fame. Equations are
printed without pretty-printing, so variables are `x1`, `x2`, ... (1-based) and
constants keep full precision.
"""
function search_hall_of_fame(X::AbstractMatrix, y::AbstractVector; options, niterations::Integer,
        weights=nothing, parallelism=:serial, extra=NamedTuple())
    Xj = Matrix{Float64}(X)
    yj = Vector{Float64}(y)
    wj = weights === nothing ? nothing : Vector{Float64}(weights)
    hof = equation_search(Xj, yj; options, niterations=Int(niterations), weights=wj,
        parallelism, extra, verbosity=0, progress=false)
    out = Tuple{Int,Float64,String}[]
    for size in eachindex(hof.members, hof.exists)
        hof.exists[size] || continue
        member = hof.members[size]
        push!(out, (compute_complexity(member.tree, options), Float64(member.loss), string_tree(member.tree, options)))
    end
    return out
end

end # module
