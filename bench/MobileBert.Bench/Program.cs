Console.WriteLine("MobileBert.Bench");
