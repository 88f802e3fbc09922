//! The `gates` and `lesion` commands: gate analysis and lesioning of trained runs, with their
//! tables and figures. The statistics and read-outs themselves are [`models::analysis`]
//! (*Training Very Deep Networks* s4, Figures 2-4; Greff et al.'s layer-output distances; the
//! RHN per micro-layer; Kim et al.'s Table 6).
//!
//! One file per part: [`runs`] loads trained runs, [`report`] writes the tables and figures,
//! and [`commands`] holds the `gates` and `lesion` commands. Everything public is re-exported
//! here.

pub mod commands;
pub mod report;
pub mod runs;

pub use commands::{EvalSplit, GatesArgs, LesionArgs, run_gates, run_lesion};
pub use report::{
    bias_label, class_heatmap, example_heatmap, lesion_summary, lm_lesion_table, mlp_gate_plots,
    plot_lesions, ranges, rhn_time_plot, stage_table, write_text,
};
pub use runs::{
    LoadedRun, NetArgs, cifar_run_splits, load_char_cnn_run, load_cifar_run, load_conv_run,
    load_mlp_run, load_rhn_run, load_run, resolve_run_dir, run_config,
};
