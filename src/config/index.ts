export { describeConfig, maskSecret } from "./describe.ts";
export {
  type AgentsConfig,
  type BuildConfig,
  type Config,
  ConfigError,
  type DatabaseConfig,
  type DeliveryConfig,
  type DockerConfig,
  type LoadedConfig,
  loadConfig,
  type PlatformsConfig,
} from "./load.ts";
export { VARIABLE_NAMES, VARIABLES, type VariableName, type VariableSpec } from "./variables.ts";
