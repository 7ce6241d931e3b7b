export {
  mountConsole,
  backtrackCommands,
  ddlLabel,
  CONSOLE_PATH,
  CONSOLE_HEADER,
  type ConsoleCluster,
  type ConsoleClusterView,
  type ConsolePreview,
  type ConsoleTimeline,
} from './mount-console.js'
