// Fault-injection tests take the shared broker down; the machine has two cores. Run tests one at a time.
[assembly: Xunit.v3.Parallelization(Mode = Xunit.Sdk.ParallelMode.None)]
