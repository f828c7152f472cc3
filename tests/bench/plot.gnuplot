# Submit-to-answer latency vs load: p50 (left) and p99 (right), one line per
# target.  bench_relay.py writes the data file and runs:
#   gnuplot -e "datafile='x.dat'; outfile='docs/bench_latency.png'; \
#       ntargets=5; names='direct socat ...'; subtitle='...'" \
#       tests/bench/plot.gnuplot
# Data: a "# load ..." header, then one row per load: the load in shares/s,
# then p50 and p99 in microseconds for each target in the order of names
# (NaN where a target was not measured).
if (!exists("datafile")) datafile = 'bench_latency.dat'
if (!exists("outfile")) outfile = 'bench_latency.png'
if (!exists("ntargets")) ntargets = 5
if (!exists("names")) names = "direct socat haproxy dpmp-per_miner dpmp-aggregate"
if (!exists("subtitle")) subtitle = ""

set terminal pngcairo size 1200,560 noenhanced font 'sans,10'
set output outfile
set datafile missing "NaN"
set style data linespoints
stats datafile using 1 nooutput
set xrange [STATS_min * 0.8 : STATS_max * 1.25]
set logscale xy
set grid xtics ytics mytics
set xlabel "load (valid shares/s, all connections)"
set ylabel "submit-to-answer latency (µs)"
set key top left
set pointsize 1.2

set multiplot layout 1,2 title "Stratum latency vs load: ".subtitle
set title "p50"
plot for [i=1:ntargets] datafile using 1:(column(2*i)) \
    title word(names, i) lt i lw 2 pt 7
set title "p99"
plot for [i=1:ntargets] datafile using 1:(column(2*i+1)) \
    title word(names, i) lt i lw 2 pt 5
unset multiplot
