export {
  mountConsole,
  backtrackCommands,
  CONSOLE_PATH,
  type ConsoleCluster,
  type ConsoleClusterView,
  type ConsolePreview,
  type ConsoleTimeline,
} from './mount-console.js'
