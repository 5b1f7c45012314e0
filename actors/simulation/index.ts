// The simulation library: run a scenario (a file of submissions, decisions, processing answers,
// elapsed time, platform failures and expectations) against an in-process hub with a simulated
// clock, and generate every path of a message type's machine as scenarios. docs/simulation.md.
export { simulate, simulationConfig, parseInlineConfig, type SimulateOptions, type SimulationReport, type StepInfo } from './simulator.ts';
export { checkScenario, describeStep, formatDuration, loadScenario, parseScenario, ScenarioError, DEFAULT_START, type Scenario, type Step, type StepKind } from './scenario.ts';
export { HubDriver, SimulationStuck, type SimulationHub } from './hub-driver.ts';
export { FailureBook, StandInPlatform, type DeliveryAttempt } from './simulated-platforms.ts';
export { ProcessingAnswers, type ProcessingAnswer, type ProcessingCall } from './simulated-processing.ts';
export { containsDeep } from './expectations.ts';
export type { Failure, TracedTransition } from './trace.ts';
export { modelPaths, runModelPaths, type ModelPath, type ModelPathOptions, type ModelPathResult, type RunModelPathsOptions } from './model-paths.ts';
