#!/bin/bash
# Run the C++ reference's demo (its run_demo.sh specification, 2021) with FEC on or off, for
# a number of restarts, printing the reference's own output (progress lines every 10,000
# individuals, one "Select fitness for candidate algorithm = ..." line per restart).
#
#   benchmarks/reference/demo.sh BINARY on|off RESTARTS SEED [SUFFICIENT_FITNESS] > ref.log
#
# RESTARTS 0 = until solved. SUFFICIENT_FITNESS defaults to 0.9999 as in run_demo.sh; 0 turns
# the early stop off so that exactly RESTARTS restarts run (for the share that solve).
# FEC off is the same specification without its `fec {...}` line.
set -euo pipefail
BIN=$1 FEC=$2 RESTARTS=$3 SEED=$4 SUFFICIENT=${5:-0.9999}
case "$FEC" in
  on) FEC_LINE="fec {num_train_examples: 10 num_valid_examples: 10}" ;;
  off) FEC_LINE="" ;;
  *) echo "error: FEC must be on or off, got '$FEC'" >&2; exit 2 ;;
esac
OPS="[SCALAR_CONST_SET_OP, VECTOR_INNER_PRODUCT_OP, SCALAR_DIFF_OP, SCALAR_PRODUCT_OP, SCALAR_VECTOR_PRODUCT_OP, VECTOR_SUM_OP]"
LINEAR="scalar_linear_regression_task {} features_size: 4 eval_type: RMS_ERROR"
exec "$BIN" \
  --search_experiment_spec="
    search_tasks { tasks { $LINEAR num_train_examples: 100 num_valid_examples: 100 num_tasks: 10 } }
    setup_ops: $OPS predict_ops: $OPS learn_ops: $OPS
    learn_size_init: 8 setup_size_init: 10 predict_size_init: 2
    $FEC_LINE
    fitness_combination_mode: MEAN_FITNESS_COMBINATION
    population_size: 1000 tournament_size: 10 initial_population: RANDOM_ALGORITHM
    max_train_steps: 200000000
    allowed_mutation_types { mutation_types: [ALTER_PARAM_MUTATION_TYPE, RANDOMIZE_INSTRUCTION_MUTATION_TYPE, RANDOMIZE_COMPONENT_FUNCTION_MUTATION_TYPE] }
    mutate_prob: 0.9 progress_every: 10000" \
  --final_tasks="tasks { $LINEAR num_train_examples: 1000 num_valid_examples: 100 num_tasks: 100 data_seeds: [1000000] param_seeds: [2000000] }" \
  --select_tasks="tasks { $LINEAR num_train_examples: 1000 num_valid_examples: 100 num_tasks: 100 }" \
  --randomize_task_seeds --max_experiments="$RESTARTS" --sufficient_fitness="$SUFFICIENT" --random_seed="$SEED"
